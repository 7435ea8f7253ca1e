package bird

import (
	"fmt"
	"runtime/debug"
)

// PanicError is the error of a section whose parsing panicked: a bug met by some input. The collection
// goes on (the other sections, the other family) and the agent keeps running; the section reports
// CollectionFailed with this message, and the agent counts it (calico_node_status_panics_total).
type PanicError struct {
	// Command is the command whose reply was being parsed ("collect" outside any one command).
	Command string
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, for the log.
	Stack []byte
}

func newPanicError(cmd string, v any) *PanicError {
	return &PanicError{Command: cmd, Value: v, Stack: debug.Stack()}
}

func (e *PanicError) Error() string {
	return cleanString(fmt.Sprintf("bird %q: parser panicked (a bug; the rest of the reply was skipped): %v", e.Command, e.Value))
}
