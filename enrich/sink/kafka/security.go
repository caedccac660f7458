package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// connSettings is what every transport of a Sink shares: TLS, SASL and
// timeouts. Built once by New; immutable afterwards.
type connSettings struct {
	tls      *tls.Config
	sasl     sasl.Mechanism
	clientID string
	cfg      Config
}

// buildConn reads the TLS and password files named by cfg.
func buildConn(cfg Config) (connSettings, error) {
	cs := connSettings{clientID: cfg.ClientID, cfg: cfg}
	if cfg.TLS.On() {
		tc, err := buildTLS(cfg.TLS)
		if err != nil {
			return cs, err
		}
		cs.tls = tc
	}
	if cfg.SASL.Mechanism != "" {
		m, err := buildSASL(cfg.SASL)
		if err != nil {
			return cs, err
		}
		cs.sasl = m
	}
	return cs, nil
}

func buildTLS(c TLSConfig) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // explicit, documented as test-only
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka: tls.ca_file %s: no PEM certificate found", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka: tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// readPassword returns the SASL password from the file or environment
// variable the config names. The error never contains the password.
func readPassword(c SASLConfig) (string, error) {
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("kafka: sasl.password_file: %w", err)
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pw == "" {
			return "", fmt.Errorf("kafka: sasl.password_file %s is empty", c.PasswordFile)
		}
		return pw, nil
	}
	pw, ok := os.LookupEnv(c.PasswordEnv)
	if !ok || pw == "" {
		return "", fmt.Errorf("kafka: sasl.password_env: environment variable %s is not set or empty", c.PasswordEnv)
	}
	return pw, nil
}

func buildSASL(c SASLConfig) (sasl.Mechanism, error) {
	pw, err := readPassword(c)
	if err != nil {
		return nil, err
	}
	switch c.Mechanism {
	case SASLPlain:
		return taggedMech{plain.Mechanism{Username: c.Username, Password: pw}}, nil
	case SASLScramSHA256, SASLScramSHA512:
		algo := scram.SHA256
		if c.Mechanism == SASLScramSHA512 {
			algo = scram.SHA512
		}
		m, err := scram.Mechanism(algo, c.Username, pw)
		if err != nil {
			// The error comes from SASLprep of the user name or password;
			// do not echo either.
			return nil, fmt.Errorf("kafka: sasl: %s credentials rejected by SASLprep (invalid characters in username or password)", c.Mechanism)
		}
		return taggedMech{m}, nil
	}
	return nil, fmt.Errorf("kafka: sasl: mechanism %q: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Mechanism)
}

// newTransport returns a kafka-go transport with the sink's TLS, SASL and
// timeouts, caching metadata of topics only. ctx ends its background
// goroutines.
func (cs connSettings) newTransport(ctx context.Context, topics []string) *kafkago.Transport {
	d := &net.Dialer{Timeout: cs.cfg.DialTimeout}
	return &kafkago.Transport{
		Dial:           d.DialContext,
		DialTimeout:    cs.cfg.DialTimeout,
		MetadataTTL:    cs.cfg.MetadataMaxAge,
		MetadataTopics: topics,
		ClientID:       cs.clientID,
		TLS:            cs.tls,
		SASL:           cs.sasl,
		Context:        ctx,
	}
}

// tlsPermanent are crypto/tls error texts (untyped errors) that mean a
// configuration mismatch, not a passing failure. Alerts from the broker
// ("remote error: tls: bad certificate", "... certificate required",
// "... unknown certificate authority") come as *net.OpError wrapping an
// unexported type.
var tlsPermanent = []string{
	"remote error: tls: ",
	"tls: server selected unsupported protocol version",
	"tls: no supported versions satisfy",
	"tls: server chose an unconfigured cipher suite",
	"tls: handshake did not verify certificate chain",
	"tls: either ServerName or InsecureSkipVerify",
}

// tlsFailure reports whether err is a TLS handshake or certificate
// failure, which retrying cannot fix.
func tlsFailure(err error) bool {
	var (
		cve  *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		he   x509.HostnameError
		ci   x509.CertificateInvalidError
		rhe  tls.RecordHeaderError
		alrt tls.AlertError
	)
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) ||
		errors.As(err, &ci) || errors.As(err, &rhe) || errors.As(err, &alrt) ||
		slices.ContainsFunc(tlsPermanent, func(s string) bool { return strings.Contains(err.Error(), s) })
}

// taggedMech wraps a SASL mechanism so that errors of the exchange itself
// are recognisable (saslError) after kafka-go has passed them up, and so
// that a saslProbe in the connection's context learns whether the
// exchange completed.
type taggedMech struct{ sasl.Mechanism }

func (m taggedMech) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	p, _ := ctx.Value(probeKey{}).(*saslProbe)
	if p != nil {
		p.start()
	}
	sm, ir, err := m.Mechanism.Start(ctx)
	if err != nil {
		return nil, nil, &saslError{err}
	}
	return taggedState{sm, p}, ir, nil
}

type taggedState struct {
	sasl.StateMachine
	probe *saslProbe
}

func (s taggedState) Next(ctx context.Context, challenge []byte) (bool, []byte, error) {
	done, resp, err := s.StateMachine.Next(ctx, challenge)
	if err != nil {
		return done, resp, &saslError{err}
	}
	if done && s.probe != nil {
		s.probe.done()
	}
	return done, resp, nil
}

// saslProbe follows the SASL exchanges of one sequence of connection
// attempts (one partition's produce attempts, the metadata refresh, a
// Check). A broker that rejects a login may answer with
// SASL_AUTHENTICATION_FAILED, or just close the connection (kfake does;
// so may proxies): then the error is a bare EOF, like an outage. An
// exchange that started and never completed, several times in a row, is
// taken for a rejected login.
type saslProbe struct {
	mu     sync.Mutex
	active bool // an exchange started and has not completed
	cuts   int  // earlier exchanges in a row that never completed
}

type probeKey struct{}

// saslCutsFatal is how many exchanges in a row must be cut before a bare
// connection error counts as a rejected login.
const saslCutsFatal = 3

func withProbe(ctx context.Context, p *saslProbe) context.Context {
	return context.WithValue(ctx, probeKey{}, p)
}

func (p *saslProbe) start() {
	p.mu.Lock()
	if p.active {
		p.cuts++
	}
	p.active = true
	p.mu.Unlock()
}

func (p *saslProbe) done() {
	p.mu.Lock()
	p.active, p.cuts = false, 0
	p.mu.Unlock()
}

// rejected reports whether the last saslCutsFatal exchanges were all cut
// short.
func (p *saslProbe) rejected() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.cuts
	if p.active {
		n++
	}
	return n >= saslCutsFatal
}
