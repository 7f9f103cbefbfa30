package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/claudette-dev/claudette-runner/modules/config"
	"github.com/claudette-dev/claudette-runner/modules/relay"
	"github.com/claudette-dev/claudette-runner/modules/version"
	"github.com/claudette-dev/claudette-runner/reporter"
	intake "github.com/claudette-dev/claudette-runner/sync"
)

// serviceCheckTimeout bounds each network check of validate; they run in
// parallel, so validate ends in about this long when everything is down.
const serviceCheckTimeout = 5 * time.Second

// serviceCheck is one question to a service the runner lives on.
type serviceCheck struct {
	name    string // what the problem line names
	setting string // what to fix, when the error does not say
	check   func(ctx context.Context) error
}

// serviceChecks are the network checks of validate: Electric (a shape
// request), the orchestrator (a heartbeat), the model API (a models request
// with the credential) and each host of CLAUDETTE_GIT_TOKENS (an HTTPS
// request, no token sent).
func serviceChecks(cfg *config.Config, client *http.Client) []serviceCheck {
	checks := []serviceCheck{
		{name: "electric", setting: "CLAUDETTE_ELECTRICSQL_URL", check: func(ctx context.Context) error { return intake.CheckShape(ctx, cfg, client) }},
		{name: "orchestrator", setting: "CLAUDETTE_ORCHESTRATOR_URL", check: func(ctx context.Context) error {
			return reporter.CheckOrchestrator(ctx, cfg, version.Version, client)
		}},
		{name: "model API", setting: "ANTHROPIC_BASE_URL", check: func(ctx context.Context) error { return relay.CheckModel(ctx, cfg, client) }},
	}
	tokens, _ := config.ParseGitTokens(cfg.Git.Tokens) // a bad value is a configuration problem already
	hosts := make([]string, 0, len(tokens))
	for h := range tokens {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		checks = append(checks, serviceCheck{name: "git host " + h, setting: "CLAUDETTE_GIT_TOKENS", check: func(ctx context.Context) error {
			return checkGitHost(ctx, h, client)
		}})
	}
	return checks
}

// checkGitHost asks https://host/ for anything: an HTTP answer of any status
// means the host answers over TLS. The token is not sent.
func checkGitHost(ctx context.Context, host string, client *http.Client) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/", nil)
	if err != nil {
		return fmt.Errorf("host %q is not a host name: %w", host, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Body.Close()
}

// checkServices runs the checks in parallel, each bounded by
// serviceCheckTimeout, prints what answered and returns a problem line per
// check that failed, in the checks' order.
func checkServices(w io.Writer, checks []serviceCheck) config.Problems {
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), serviceCheckTimeout)
			defer cancel()
			errs[i] = c.check(ctx)
		}()
	}
	wg.Wait()
	fmt.Fprintln(w, "Services:")
	var out config.Problems
	for i, c := range checks {
		if errs[i] == nil {
			fmt.Fprintf(w, "  %s: answers\n", c.name)
			continue
		}
		out = append(out, config.Problem{Setting: c.name, Message: describeServiceError(errs[i], c.setting)})
	}
	return out
}

// describeServiceError puts a transport failure in words with what to do;
// an answer the service gave is described by the check itself.
func describeServiceError(err error, setting string) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		recordHdr tls.RecordHeaderError
		certErr   *tls.CertificateVerificationError
		dnsErr    *net.DNSError
		opErr     *net.OpError
	)
	msg := oneLine(err.Error())
	switch {
	case errors.As(err, &unknownCA) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &certErr):
		return "TLS error: " + msg + ": the server's certificate is not trusted for this name; fix the certificate or the CA bundle (SSL_CERT_FILE), or " + setting
	case errors.As(err, &recordHdr) || strings.Contains(msg, "server gave HTTP response to HTTPS client"): // net/http drops the TLS error's type
		return "TLS error: " + msg + ": the server does not speak TLS there; use http:// or the TLS port in " + setting
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s: %s: check %s and the network", serviceCheckTimeout, msg, setting)
	case errors.As(err, &dnsErr):
		return "unreachable: " + msg + ": the host name does not resolve; check " + setting
	case errors.As(err, &opErr):
		return "unreachable: " + msg + ": check " + setting + ", that the service runs and that a firewall lets the runner through"
	}
	return msg
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
