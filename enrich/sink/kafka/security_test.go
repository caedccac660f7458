package kafka

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aegis-nsm/aegis/enrich/sink"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, written as PEM files.
type pki struct {
	dir                 string
	caFile              string
	serverCert          tls.Certificate
	clientCert, clientK string // PEM files
	pool                *x509.CertPool
	clientPair          tls.Certificate
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	p := &pki{dir: dir, caFile: filepath.Join(dir, "ca.pem")}
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	sc, sk := issue(2, "kafka-test-broker", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	if p.serverCert, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	cc, ck := issue(3, "aegis-sensor", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert, p.clientK = write("client.pem", cc), write("client-key.pem", ck)
	if p.clientPair, err = tls.X509KeyPair(cc, ck); err != nil {
		t.Fatal(err)
	}
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

// serverTLS is the broker's TLS config; mutual requires client
// certificates signed by the CA.
func (p *pki) serverTLS(mutual bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.serverCert}, MinVersion: tls.VersionTLS12}
	if mutual {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = p.pool
	}
	return c
}

// checkOnly runs Check with a deadline.
func checkOnly(t *testing.T, s *Sink, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.Check(ctx)
}

// roundTrip checks that s can publish and that k's client reads it back.
func roundTrip(t *testing.T, k *testKafka, s *Sink) {
	t.Helper()
	if err := checkOnly(t, s, 20*time.Second); err != nil {
		t.Fatalf("Check: %v", err)
	}
	_, recs := replayRecords(t)
	sent := synthRecords(t, recs, 150, 13, t.Name())
	writeAll(t, s, sink.KindDetection, sent)
	verifyTopic(t, k, k.topics[sink.KindDetection], sink.KindDetection, KeySourceIP, sent, 2)
}

// wantPermanent asserts err is a *sink.PermanentError whose Fix mentions
// fix.
func wantPermanent(t *testing.T, err error, fix string) {
	t.Helper()
	var pe *sink.PermanentError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want *sink.PermanentError", err, err)
	}
	if !strings.Contains(pe.Fix, fix) {
		t.Errorf("fix %q does not mention %q", pe.Fix, fix)
	}
}

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSASL publishes through every SASL mechanism (password from a file
// and from an environment variable), and a wrong password makes Check,
// and a Write without Check, fail with a PermanentError about the SASL
// login. The password never appears in the logs.
func TestSASL(t *testing.T) {
	mechs := []struct {
		name   string
		kgoOpt func(user, pass string) kgo.Opt
	}{
		{SASLPlain, func(u, p string) kgo.Opt { return kgo.SASL(plain.Auth{User: u, Pass: p}.AsMechanism()) }},
		{SASLScramSHA256, func(u, p string) kgo.Opt { return kgo.SASL(scram.Auth{User: u, Pass: p}.AsSha256Mechanism()) }},
		{SASLScramSHA512, func(u, p string) kgo.Opt { return kgo.SASL(scram.Auth{User: u, Pass: p}.AsSha512Mechanism()) }},
	}
	const user, pass = "aegis-sensor", "c0rrect-h0rse-battery"
	for _, m := range mechs {
		for _, src := range []string{"file", "env"} {
			t.Run(m.name+"/"+src, func(t *testing.T) {
				k := newFake(t, 2, kfake.EnableSASL(), kfake.Superuser(m.name, user, pass))
				k.kgoOpts = []kgo.Opt{m.kgoOpt(user, pass)}
				cfg := k.config()
				cfg.SASL = SASLConfig{Mechanism: m.name, Username: user}
				pwFile := filepath.Join(t.TempDir(), "password")
				setPassword := func(pw string) {
					if src == "file" {
						if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
							t.Fatal(err)
						}
						cfg.SASL.PasswordFile = pwFile
					} else {
						t.Setenv("AEGIS_TEST_KAFKA_PASSWORD", pw)
						cfg.SASL.PasswordEnv = "AEGIS_TEST_KAFKA_PASSWORD"
					}
				}
				setPassword(pass)
				var logs lockedBuffer
				s, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				roundTrip(t, k, s)

				setPassword("wrong-password")
				bad, err := New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { bad.Close() })
				err = checkOnly(t, bad, 10*time.Second)
				wantPermanent(t, err, "login of user")

				// Without Check: the record fails through Done, the sink stops.
				_, recs := replayRecords(t)
				r := synthRecords(t, recs, 1, 1, t.Name())[0]
				got := make(chan error, 1)
				if err := bad.Write(context.Background(), message(sink.KindDetection, &r, func(err error) { got <- err })); err != nil {
					wantPermanent(t, err, "login of user") // the metadata loop may have stopped the sink first
				} else {
					wantPermanent(t, <-got, "login of user")
				}
				s.Close()
				bad.Close()
				if out := logs.String(); strings.Contains(out, pass) || strings.Contains(out, "wrong-password") {
					t.Errorf("a password appears in the logs:\n%s", out)
				}
			})
		}
	}
}

// TestTLS publishes over TLS (server authentication, then mutual TLS,
// then TLS with SCRAM), and shows that certificate problems are
// PermanentErrors that say what to fix.
func TestTLS(t *testing.T) {
	p := newPKI(t, "aegis")
	other := newPKI(t, "other")

	t.Run("ca_file", func(t *testing.T) {
		k := newFake(t, 2, kfake.TLS(p.serverTLS(false)))
		k.kgoOpts = []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: p.pool})}
		cfg := k.config()
		cfg.TLS = TLSConfig{CAFile: p.caFile}
		roundTrip(t, k, newSink(t, cfg))
	})
	t.Run("mutual", func(t *testing.T) {
		k := newFake(t, 2, kfake.TLS(p.serverTLS(true)))
		k.kgoOpts = []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.clientPair}})}
		cfg := k.config()
		cfg.TLS = TLSConfig{CAFile: p.caFile, CertFile: p.clientCert, KeyFile: p.clientK}
		roundTrip(t, k, newSink(t, cfg))
	})
	t.Run("scram-sha-512", func(t *testing.T) {
		k := newFake(t, 2, kfake.TLS(p.serverTLS(false)), kfake.EnableSASL(), kfake.Superuser(SASLScramSHA512, "aegis", "pw"))
		k.kgoOpts = []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: p.pool}), kgo.SASL(scram.Auth{User: "aegis", Pass: "pw"}.AsSha512Mechanism())}
		cfg := k.config()
		cfg.TLS = TLSConfig{CAFile: p.caFile}
		t.Setenv("AEGIS_TEST_KAFKA_PASSWORD", "pw")
		cfg.SASL = SASLConfig{Mechanism: "scram-sha-512", Username: "aegis", PasswordEnv: "AEGIS_TEST_KAFKA_PASSWORD"}
		roundTrip(t, k, newSink(t, cfg))
	})
	t.Run("insecure_skip_verify", func(t *testing.T) {
		k := newFake(t, 2, kfake.TLS(other.serverTLS(false)))
		k.kgoOpts = []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: other.pool})}
		cfg := k.config()
		cfg.TLS = TLSConfig{Enabled: true, InsecureSkipVerify: true}
		roundTrip(t, k, newSink(t, cfg))
	})

	failures := []struct {
		name   string
		server *tls.Config
		client TLSConfig
		fix    string
	}{
		{"unknown CA", p.serverTLS(false), TLSConfig{CAFile: other.caFile}, "ca_file"},
		{"server name mismatch", p.serverTLS(false), TLSConfig{CAFile: p.caFile, ServerName: "kafka.example.net"}, "server_name"},
		{"client certificate missing", p.serverTLS(true), TLSConfig{CAFile: p.caFile}, "cert_file"},
		{"client certificate from another CA", p.serverTLS(true), TLSConfig{CAFile: p.caFile, CertFile: other.clientCert, KeyFile: other.clientK}, "cert_file"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			k := newFake(t, 1, kfake.TLS(f.server))
			cfg := k.config()
			cfg.TLS = f.client
			s := newSink(t, cfg)
			wantPermanent(t, checkOnly(t, s, 10*time.Second), f.fix)
		})
	}

	t.Run("plaintext client, TLS listener", func(t *testing.T) {
		k := newFake(t, 1, kfake.TLS(p.serverTLS(false)))
		s := newSink(t, k.config())
		// The broker just closes the connection: indistinguishable from an
		// outage, so Check retries until its deadline and then says what
		// to check, TLS included.
		wantPermanent(t, checkOnly(t, s, time.Second), "kafka.tls")
	})
}

// TestConfigFilesMissing: New reports unreadable TLS and password files
// by their YAML keys.
func TestConfigFilesMissing(t *testing.T) {
	base := Config{Brokers: []string{"127.0.0.1:9"}}
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ca_file", func(c *Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, "tls.ca_file"},
		{"cert_file", func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = "/nonexistent/c.pem", "/nonexistent/k.pem" }, "tls.cert_file"},
		{"password_file", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordFile: "/nonexistent/pw"}
		}, "sasl.password_file"},
		{"password_env", func(c *Config) {
			c.SASL = SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordEnv: "AEGIS_TEST_UNSET_VARIABLE_FOR_SURE"}
		}, "sasl.password_env"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			c.mod(&cfg)
			_, err := New(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want an error naming %s", err, c.want)
			}
		})
	}
}
