package testenv

import (
	"fmt"
	"testing"
	"time"
)

// Condition is what Eventually polls: done, or done and why not yet (a text or the last error).
type Condition interface {
	~func() bool | ~func() (bool, string) | ~func() (bool, error)
}

// pollInterval is how often Eventually asks; the deadline, not the interval, bounds a wait.
const pollInterval = 100 * time.Millisecond

// Eventually asks cond every pollInterval until it is done, and fails t after timeout naming what it
// waited for and cond's last word on why not. It is the one poller of every test tier.
func Eventually[C Condition](t testing.TB, timeout time.Duration, what string, cond C) {
	t.Helper()
	ask := func() (bool, string) {
		switch c := any(cond).(type) {
		case func() bool:
			return c(), ""
		case func() (bool, string):
			return c()
		case func() (bool, error):
			ok, err := c()
			if err != nil {
				return ok, fmt.Sprintf("last error: %v", err)
			}
			return ok, ""
		}
		panic(fmt.Sprintf("testenv.Eventually: condition of type %T", cond)) // named types of the constraint
	}
	deadline := time.Now().Add(timeout)
	for {
		ok, why := ask()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if why != "" {
				t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, why)
			}
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}
