package kafka

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
)

// TestClassify pins which errors are retried for ever and which stop the
// sink.
func TestClassify(t *testing.T) {
	s, err := New(Config{Brokers: []string{"127.0.0.1:9"}, SASL: SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordEnv: "AEGIS_TEST_PW"}}, testLogger(t))
	if err == nil {
		t.Fatal("New without the password variable succeeded")
	}
	t.Setenv("AEGIS_TEST_PW", "pw")
	s, err = New(Config{Brokers: []string{"127.0.0.1:9"}, SASL: SASLConfig{Mechanism: "PLAIN", Username: "u", PasswordEnv: "AEGIS_TEST_PW"}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opErr := func(e error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: e} }
	cases := []struct {
		err  error
		want class
	}{
		{io.ErrUnexpectedEOF, retriable},
		{fmt.Errorf("kafka.(*Client).Produce: %w", io.EOF), retriable},
		{opErr(syscall.ECONNREFUSED), retriable},
		{opErr(syscall.ECONNRESET), retriable},
		{context.DeadlineExceeded, retriable},
		{errors.New("tls: failed to send closeNotify alert (but connection was closed anyway): broken pipe"), retriable},
		{kafkago.NotEnoughReplicas, retriable},
		{kafkago.LeaderNotAvailable, retriable},
		{kafkago.RequestTimedOut, retriable},
		{kafkago.BrokerNotAvailable, retriable},
		{kafkago.Error(32767), retriable}, // a code this build does not know
		{&produceError{err: kafkago.NotLeaderForPartition}, retriable},
		{kafkago.UnknownTopicOrPartition, unknownTopic},
		{kafkago.MessageSizeTooLarge, tooLarge},
		{&produceError{err: kafkago.InvalidRecord}, recordFatal},
		{kafkago.TopicAuthorizationFailed, fatal},
		{kafkago.SASLAuthenticationFailed, fatal},
		{&saslError{errors.New("server error: invalid-proof")}, fatal},
		{x509.UnknownAuthorityError{}, fatal},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, fatal},
	}
	for _, c := range cases {
		if got, perm := s.classify(c.err, "t", nil); got != c.want {
			t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
		} else if (got == fatal) != (perm != nil) {
			t.Errorf("classify(%v): class %d with PermanentError %v", c.err, got, perm)
		}
	}

	// A bare EOF after SASL exchanges cut short several times in a row is
	// a rejected login; one cut is not.
	p := &saslProbe{}
	p.start()
	if cls, _ := s.classify(io.ErrUnexpectedEOF, "", p); cls != retriable {
		t.Error("one cut exchange stopped the sink")
	}
	p.start()
	p.start()
	if cls, perm := s.classify(io.ErrUnexpectedEOF, "", p); cls != fatal || perm == nil {
		t.Error("three cut exchanges in a row were retried")
	}
	p.done()
	if p.rejected() {
		t.Error("a completed exchange did not reset the probe")
	}
}
