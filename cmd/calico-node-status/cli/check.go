package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/calico-node-status/calico-node-status/internal/apicheck"
)

func newCheckCommand(r *root) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check that this cluster serves CalicoNodeStatus from calico-node-status's CRD (run after installing)",
		Long: `Check who serves CalicoNodeStatus (projectcalico.org/v3) on this cluster, and say what to do when it
is not calico-node-status's CRD: when the CRD is not installed, when Calico's API server (APIService
v3.projectcalico.org) serves projectcalico.org/v3 and so shadows the CRD, or when Calico's own native CRD
of the same name is installed instead. Exits 1 when something is wrong. Reading the APIService and the
CRD needs permissions a plain user may lack; the check then works from API discovery and says less.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := r.checkAPI(cmd.Context())
			if err != nil {
				return err
			}
			if !rep.OK() {
				return &apiProblemError{rep: rep}
			}
			fmt.Fprintf(r.Streams.Out, "OK: %s\n", rep.Seen)
			if rep.Warning != "" {
				fmt.Fprintf(r.Streams.ErrOut, "warning: %s\n", rep.Warning)
			}
			return nil
		},
	}
}

func (r *root) checkAPI(ctx context.Context) (apicheck.Report, error) {
	cfg, err := r.flags.ToRESTConfig()
	if err != nil {
		return apicheck.Report{}, fmt.Errorf("load kubeconfig: %w", err)
	}
	c, err := apicheck.NewClient(cfg)
	if err != nil {
		return apicheck.Report{}, err
	}
	rep, err := apicheck.Check(ctx, c)
	if err != nil {
		return apicheck.Report{}, fmt.Errorf("check who serves CalicoNodeStatus on %s: %w", cfg.Host, err)
	}
	return rep, nil
}

// apiProblemError is a problem with the CalicoNodeStatus API, in words; it keeps the error that revealed
// it, if any.
type apiProblemError struct {
	rep apicheck.Report
	err error
}

func (e *apiProblemError) Error() string {
	msg := fmt.Sprintf("CalicoNodeStatus API: %s: %s", e.rep.Problem, e.rep.Message)
	if e.err != nil {
		msg = fmt.Sprintf("%v\n%s", e.err, msg)
	}
	return msg
}

func (e *apiProblemError) Unwrap() error { return e.err }

// explainAPI adds, to an error of a request for CalicoNodeStatus, what is wrong with the API when the
// check finds something (a bare 404 or 503 says nothing a person can act on).
func (r *root) explainAPI(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	rep, cerr := r.checkAPI(ctx)
	if cerr != nil || rep.OK() {
		return err
	}
	return &apiProblemError{rep: rep, err: err}
}
