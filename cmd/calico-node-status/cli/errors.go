package cli

import (
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// apiError words an API server refusal so a person can act on it: what was refused, why, and for an
// invalid object each offending field on its own line, with the server's own message.
func apiError(what string, err error) error {
	var se apierrors.APIStatus
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: %w", what, err)
	}
	st := se.Status()
	switch {
	case st.Reason == metav1.StatusReasonNotFound:
		return fmt.Errorf("%s: not found: %w", what, err)
	case st.Details != nil && len(st.Details.Causes) > 0:
		var b strings.Builder
		fmt.Fprintf(&b, "%s: the API server refused it (%s):", what, st.Reason)
		for _, c := range st.Details.Causes {
			if c.Field != "" {
				fmt.Fprintf(&b, "\n  %s: %s", c.Field, c.Message)
			} else {
				fmt.Fprintf(&b, "\n  %s", c.Message)
			}
		}
		return &wordedError{msg: b.String(), err: err}
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// wordedError keeps the API error for errors.Is/As while showing the worded message.
type wordedError struct {
	msg string
	err error
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) Unwrap() error { return e.err }
