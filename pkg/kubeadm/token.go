package kubeadm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// ensureToken makes sure the run's bootstrap token exists on the cluster
// with time to spare. Joins running at once take turns: the first creates
// the token, the others find it fresh. Creating it is classified:
//   - "a token with id ... already exists" for the run's own token (an
//     earlier attempt created it and lost its answer) is success;
//   - an apiserver that did not answer is transient: the step is retried;
//   - anything else fails the step.
func (w joinWork) ensureToken(ctx context.Context, mg *inventory.Guest, m1 remote.Host, out io.Writer) error {
	release, err := w.creds.tokenLock(ctx)
	if err != nil {
		return err
	}
	defer release()
	fresh, token := w.creds.tokenFresh()
	if fresh {
		return nil
	}
	id, _, _ := strings.Cut(token, ".")
	_, err = run(ctx, m1, command{script: "kubeadm token create " + token + " --ttl " + TokenTTL + " >/dev/null",
		secrets: w.creds.secrets(), out: out})
	switch {
	case err == nil:
		fmt.Fprintf(out, "%s: a new bootstrap token (%s)\n", mg.Name, id)
	case tokenExists(err, id):
		ours, lerr := w.tokenListed(ctx, mg, m1, token)
		if lerr != nil {
			return lerr
		}
		if !ours {
			return fmt.Errorf("%s: create a bootstrap token: a token with id %s exists that this run did not create: %w", mg.Name, id, err)
		}
		fmt.Fprintf(out, "%s: the bootstrap token (%s) exists already: an earlier attempt of this run created it\n", mg.Name, id)
	case transientAPI(err):
		return step.Retryable(fmt.Errorf("%s: create a bootstrap token: %w", mg.Name, err))
	default:
		return fmt.Errorf("%s: create a bootstrap token: %w", mg.Name, err)
	}
	w.creds.tokenCreated()
	return nil
}

// tokenListed reports whether `kubeadm token list` shows token, secret
// and all (its output is read, never printed).
func (w joinWork) tokenListed(ctx context.Context, mg *inventory.Guest, m1 remote.Host, token string) (bool, error) {
	list, err := run(ctx, m1, command{script: "kubeadm token list", secrets: w.creds.secrets()})
	if err != nil {
		if transientAPI(err) {
			return false, step.Retryable(fmt.Errorf("%s: list the bootstrap tokens: %w", mg.Name, err))
		}
		return false, fmt.Errorf("%s: list the bootstrap tokens: %w", mg.Name, err)
	}
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == token {
			return true, nil
		}
	}
	return false, nil
}

// tokenExists reports whether err is kubeadm refusing to create the token
// id because one with that id exists (cmd/kubeadm/app/phases/bootstraptoken/node/token.go).
func tokenExists(err error, id string) bool {
	return exited(err) && strings.Contains(err.Error(), fmt.Sprintf("a token with id %q already exists", id))
}

// notFound reports whether err is kubectl answering that the object it
// was asked for does not exist (k8s.io/kubectl pkg/cmd/util/helpers.go
// StandardErrorMessage of a NotFound status).
func notFound(err error) bool {
	var exit *remote.ExitError
	return errors.As(err, &exit) && strings.Contains(exit.Stderr, "Error from server (NotFound): ")
}

// transientAPI reports whether err is a kubeadm or kubectl command that
// ran and failed because the apiserver or etcd did not answer in time: a
// later attempt may succeed. A command that could not run at all (a lost
// connection) is already marked retryable by remote.
func transientAPI(err error) bool {
	if !exited(err) {
		return false
	}
	msg := err.Error()
	for _, s := range []string{
		"etcdserver: request timed out", "etcdserver: leader changed", "connect: connection refused",
		"i/o timeout", "TLS handshake timeout", "the server was unable to return a response",
		"Client.Timeout exceeded", "http2: client connection lost",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
