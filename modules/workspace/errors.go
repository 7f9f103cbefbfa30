package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// FieldError is an invalid argument naming the request field at fault
// (e.g. "repository.url"). errdefs.IsInvalidArgument reports true for it.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes errors.Is(err, errdefs.ErrInvalidArgument) hold.
func (e *FieldError) Is(target error) bool { return target == errdefs.ErrInvalidArgument }

// InvalidParameter marks the error for errdefs.IsInvalidArgument.
func (e *FieldError) InvalidParameter() {}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// classed adds an errdefs class to an error without changing its text.
type classed struct{ err, class error }

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.err, e.class} }

func withClass(class, err error) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: class}
}

// classifyGit gives a go-git error its errdefs class: the caller reports every
// checkout failure the same way, but logs and tests can tell them apart.
func classifyGit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, transport.ErrRepositoryNotFound), errors.Is(err, transport.ErrEmptyRemoteRepository):
		return withClass(errdefs.ErrNotFound, err)
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return withClass(errdefs.ErrUnauthenticated, err)
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return withClass(errdefs.ErrPermissionDenied, err)
	default:
		return withClass(errdefs.ErrUnavailable, err)
	}
}
