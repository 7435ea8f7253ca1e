package printer

import (
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Whatever the agent cleans, a status is written by whoever may write it (any client with the RBAC, an
// older agent), so the view escapes every string it prints: an ESC or BEL in a protocol name must reach
// the terminal as text, not as a command to it.

// Escape returns s with every control character (C0, DEL, C1) and bidirectional-text control written as
// an escape (\t, \n, \x1b, \u0085, \u202e) and every byte that is not UTF-8 as \xff; printable text is
// left as it is. The result never changes what a terminal does.
func Escape(s string) string { return escape(s, false) }

// EscapeText is Escape for a message of several lines: newlines are kept.
func EscapeText(s string) string { return escape(s, true) }

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}

func escape(s string, keepNewlines bool) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (needsEscape(r) && !(keepNewlines && r == '\n')) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && w == 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		case r == '\n' && keepNewlines:
			b.WriteByte('\n')
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < utf8.RuneSelf && needsEscape(r):
			b.WriteString(`\x`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&15])
		case needsEscape(r):
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[(r>>shift)&15])
			}
		default:
			b.WriteString(s[i : i+w])
		}
		i += w
	}
	return b.String()
}

// escaped returns a copy of obj whose every string (names, spec, status, conditions, annotations) is
// Escape'd, so no field can be printed raw by mistake.
func escaped(obj *v3.CalicoNodeStatus) *v3.CalicoNodeStatus {
	c := obj.DeepCopy()
	escapeValue(reflect.ValueOf(c).Elem())
	return c
}

// escapedAssessment is a with every string escaped: its messages quote the object, the agent Pod's
// condition and API errors.
func escapedAssessment(a Assessment) Assessment {
	a.Stale, a.Unknown = slices.Clone(a.Stale), slices.Clone(a.Unknown)
	escapeValue(reflect.ValueOf(&a).Elem())
	return a
}

func escapeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			if s := v.String(); Escape(s) != s {
				v.SetString(Escape(s))
			}
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			escapeValue(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				escapeValue(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			escapeValue(v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 {
			return
		}
		// Keys and values (labels, annotations): rebuilt, as map entries cannot be set in place.
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			k, val := reflect.New(it.Key().Type()).Elem(), reflect.New(it.Value().Type()).Elem()
			k.Set(it.Key())
			val.Set(it.Value())
			escapeValue(k)
			escapeValue(val)
			m.SetMapIndex(k, val)
		}
		if v.CanSet() {
			v.Set(m)
		}
	}
}

// escapeJSON writes the control characters encoding/json leaves raw (DEL, C1, bidirectional-text
// controls) as \u escapes: the same JSON value, nothing a terminal acts on.
func escapeJSON(b []byte) []byte {
	risky := false
	for _, r := range string(b) {
		if r >= 0x7f && needsEscape(r) {
			risky = true
			break
		}
	}
	if !risky {
		return b
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(b)+64)
	for _, r := range string(b) {
		if r >= 0x7f && needsEscape(r) {
			out = append(out, '\\', 'u', hex[(r>>12)&15], hex[(r>>8)&15], hex[(r>>4)&15], hex[r&15])
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// yamlRaw reports whether YAML would print r raw: it escapes the other control characters itself
// but counts NEL and the bidirectional-text controls as printable.
func yamlRaw(r rune) bool { return r == 0x85 || unicode.Is(unicode.Bidi_Control, r) }

// escapeForYAML returns obj with the strings holding a character YAML prints raw Escape'd (the value
// shown then differs from the stored one, only for such strings).
func escapeForYAML(obj any) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			if v.CanSet() && strings.IndexFunc(v.String(), yamlRaw) >= 0 {
				v.SetString(Escape(v.String()))
			}
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			escapeValue(v) // labels and annotations: escaped like the table view
		}
	}
	walk(reflect.ValueOf(obj))
}
