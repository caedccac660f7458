package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The signature headers.
const (
	// HeaderTimestamp carries the signing time in Unix seconds.
	HeaderTimestamp = "X-Aegis-Timestamp"
	// HeaderSignature carries "sha256=" and the lower-case hex
	// HMAC-SHA256 of the signed string.
	HeaderSignature = "X-Aegis-Signature"
	// HeaderRecordID carries the record id (the same on every retry, so a
	// receiver can drop duplicates).
	HeaderRecordID = "X-Aegis-Record-Id"
	// HeaderKind carries the message kind ("detection", "verdict", ...).
	HeaderKind = "X-Aegis-Kind"
)

// Sign computes the signature headers of body at time ts, the scheme of
// Stripe and GitHub webhooks:
//
//	signed string     = timestamp + "." + body    (the exact bytes sent)
//	X-Aegis-Timestamp = timestamp                  (Unix seconds, decimal)
//	X-Aegis-Signature = "sha256=" + hex(HMAC-SHA256(secret, signed string))
//
// Binding the timestamp into the MAC lets a receiver refuse replays older
// than its tolerance (VerifyAt). Each attempt of a delivery is signed
// afresh, so retries carry a current timestamp.
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	return timestamp, "sha256=" + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Errors of Verify.
var (
	ErrNoSignature  = errors.New("webhook: request has no X-Aegis-Signature or X-Aegis-Timestamp header")
	ErrBadSignature = errors.New("webhook: signature does not match the body")
	ErrStale        = errors.New("webhook: signature timestamp outside the tolerance")
)

// Verify checks the signature headers of a request against its body (the
// exact bytes received) and secret, in constant time. It does not look at
// the time: use VerifyAt to refuse replays.
func Verify(secret, body []byte, header http.Header) error {
	return VerifyAt(secret, body, header, time.Time{}, 0)
}

// VerifyAt is Verify that also refuses a timestamp more than tolerance away
// from now (tolerance 0: any time).
func VerifyAt(secret, body []byte, header http.Header, now time.Time, tolerance time.Duration) error {
	ts, sig := header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrNoSignature
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return fmt.Errorf("%w: scheme is not sha256=", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: not hex", ErrBadSignature)
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	if tolerance > 0 {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, ts)
		}
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed %v ago, tolerance %v", ErrStale, d.Round(time.Second), tolerance)
		}
	}
	return nil
}
