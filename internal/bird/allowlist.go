package bird

import (
	"strings"
)

// CheckCommand returns the canonical form of a read-only command (tokens joined by single spaces), or a
// *RefusedError naming it. Only `show status`, `show protocols [all] [name]`, `show route [options]`,
// `show interfaces [summary]` and `show memory` pass: the agent must never be able to reconfigure, disable
// or restart the daemon it observes, whatever string reaches it. BIRD's abbreviations ("sh ro") are
// refused too: we only send our own full commands, and a narrower grammar is easier to trust.
func CheckCommand(cmd string) (string, error) {
	for i := 0; i < len(cmd); i++ {
		if c := cmd[i]; c < 0x20 || c >= 0x7f {
			// Newline injection ("show status\nconfigure") and any other control byte.
			return "", &RefusedError{Command: cmd, Reason: "control or non-ASCII character in command"}
		}
	}
	f := strings.Fields(cmd)
	refuse := func(why string) (string, error) {
		return "", &RefusedError{Command: cmd, Reason: why}
	}
	if len(f) < 2 || f[0] != "show" {
		return refuse("only read-only show commands are allowed")
	}
	args := f[2:]
	switch f[1] {
	case "status", "memory":
		if len(args) != 0 {
			return refuse("show " + f[1] + " takes no arguments")
		}
	case "interfaces":
		if len(args) > 1 || (len(args) == 1 && args[0] != "summary") {
			return refuse("show interfaces takes only \"summary\"")
		}
	case "protocols":
		if len(args) > 0 && args[0] == "all" {
			args = args[1:]
		}
		if len(args) > 1 {
			return refuse("show protocols takes [all] [name]")
		}
		if len(args) == 1 && !isPattern(args[0]) {
			return refuse("protocol name must be a symbol or a quoted pattern")
		}
	case "route":
		if why := checkRouteArgs(args); why != "" {
			return refuse(why)
		}
	default:
		return refuse("only show status|protocols|route|interfaces|memory are allowed")
	}
	return strings.Join(f, " "), nil
}

// checkRouteArgs accepts the `show route` options that only select and format routes. Filters (`where`,
// `filter`) are refused: they are small programs, not selectors.
func checkRouteArgs(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "all", "primary", "filtered", "count", "stats":
			continue
		case "table", "protocol", "export", "preexport", "noexport":
			if i+1 >= len(args) || !isSymbol(args[i+1]) {
				return "show route " + a + " needs a name"
			}
			i++
			continue
		case "for", "in":
			if i+1 >= len(args) || !isNet(args[i+1]) {
				return "show route " + a + " needs an address or prefix"
			}
			i++
			continue
		}
		if isNet(a) {
			continue
		}
		return "show route option " + quote(a) + " is not allowed"
	}
	return ""
}

func quote(s string) string { return "\"" + s + "\"" }

// isSymbol is a BIRD symbol: letters, digits, '_' (protocol and table names).
func isSymbol(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isPattern is a symbol or a double-quoted shell pattern of symbol characters, '*' and '?'.
func isPattern(s string) bool {
	if isSymbol(s) {
		return true
	}
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if !(c == '*' || c == '?' || c == '_' || c == '.' || c == '-' || c >= 'a' && c <= 'z' ||
			c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isNet is an address or prefix: hex digits, '.', ':', '/'.
func isNet(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == ':' || c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
