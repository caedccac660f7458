// Package ollama is the LLM stage's client for Ollama's /api/chat, built on
// github.com/ollama/ollama/api. It asks for structured output (a JSON
// Schema as the request's format), with temperature, context size and
// keep-alive from the configuration, streaming or not, and sorts failures
// into the kinds the stage reports: timeout, unavailable, model missing,
// rejected, canceled.
//
// A Client is safe for concurrent use.
package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// Options configure a Client.
type Options struct {
	URL         string        // base URL, e.g. http://127.0.0.1:11434
	Model       string        // e.g. qwen3-coder
	KeepAlive   time.Duration // how long Ollama keeps the model loaded after a request; <0 forever
	NumCtx      int           // context window (options.num_ctx); 0 leaves Ollama's default
	Temperature float64       // options.temperature
	Stream      bool          // ask for a streamed (NDJSON) reply
	// HTTPClient is the client to use; nil means a fresh one with no
	// overall timeout (requests are bounded by their context).
	HTTPClient *http.Client
}

// Client talks to one Ollama server about one model.
type Client struct {
	opts Options
	api  *api.Client
}

// New returns a client for opts.URL. It does not contact the server.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("ollama: url %q: %w", opts.URL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("ollama: url %q must be http:// or https:// with a host", opts.URL)
	}
	if opts.Model == "" {
		return nil, errors.New("ollama: no model")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{opts: opts, api: api.NewClient(u, hc)}, nil
}

// Model is the model the client asks.
func (c *Client) Model() string { return c.opts.Model }

// Message is one chat message.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// Request is one chat request.
type Request struct {
	Messages []Message
	// Format is the JSON Schema the reply must follow (structured output);
	// nil asks for free text.
	Format json.RawMessage
}

// Response is a finished reply.
type Response struct {
	Content    string // the assistant message, streamed chunks joined
	Model      string
	DoneReason string // "stop", "length", ...
	Chunks     int    // NDJSON objects received (1 without streaming)
	// Counters Ollama reports with the last object.
	PromptEvalCount int
	EvalCount       int
	TotalDuration   time.Duration
}

// Kind classifies a failed request.
type Kind int

// The failure kinds.
const (
	KindUnavailable  Kind = iota // connection refused, reset, 5xx, 429, a reply cut short: retry later
	KindTimeout                  // the request's context deadline passed
	KindModelMissing             // 404: the model is not pulled
	KindRejected                 // another 4xx (bad request, unauthorised): retrying will not help
	KindCanceled                 // the caller's context was canceled
)

// String is the kind's name, as the stage logs it.
func (k Kind) String() string {
	return [...]string{"unavailable", "timeout", "model_missing", "rejected", "canceled"}[k]
}

// Retryable reports whether a later retry of the same request may succeed.
func (k Kind) Retryable() bool { return k == KindUnavailable || k == KindTimeout }

// Error is a failed chat request.
type Error struct {
	Kind   Kind
	Status int // HTTP status, 0 when there was none
	Err    error
}

// Error names the kind, the HTTP status when there was one, and the cause.
func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("ollama: %s (HTTP %d): %v", e.Kind, e.Status, e.Err)
	}
	return fmt.Sprintf("ollama: %s: %v", e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of err (KindUnavailable for errors not from
// Chat).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnavailable
}

// errIncomplete marks a reply that ended without its final object.
var errIncomplete = errors.New("reply ended before done")

// Chat sends req and returns the whole reply. Streamed replies are joined;
// a reply that ends without Ollama's final "done" object is an error
// (KindTimeout when ctx's deadline cut it, else KindUnavailable). ctx
// bounds the whole request, body included.
func (c *Client) Chat(ctx context.Context, req Request) (Response, error) {
	stream := c.opts.Stream
	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	options := map[string]any{"temperature": c.opts.Temperature}
	if c.opts.NumCtx > 0 {
		options["num_ctx"] = c.opts.NumCtx
	}
	areq := &api.ChatRequest{
		Model:    c.opts.Model,
		Messages: msgs,
		Stream:   &stream,
		Format:   req.Format,
		Options:  options,
	}
	if c.opts.KeepAlive != 0 {
		areq.KeepAlive = &api.Duration{Duration: c.opts.KeepAlive}
	}
	var (
		resp    Response
		content strings.Builder
		done    bool
	)
	err := c.api.Chat(ctx, areq, func(r api.ChatResponse) error {
		if done {
			return nil // objects after the final one carry nothing
		}
		resp.Chunks++
		content.WriteString(r.Message.Content)
		if content.Len() > maxContent {
			return fmt.Errorf("reply longer than %d bytes", maxContent)
		}
		if r.Done {
			done = true
			resp.Model = r.Model
			resp.DoneReason = r.DoneReason
			resp.PromptEvalCount = r.PromptEvalCount
			resp.EvalCount = r.EvalCount
			resp.TotalDuration = r.TotalDuration
		}
		return nil
	})
	if err == nil && !done {
		// The api client stops quietly when the body ends (or a read
		// fails, the deadline included) before the final object.
		err = errIncomplete
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", errIncomplete, ctx.Err())
		}
	}
	if err != nil {
		return Response{}, classify(ctx, err)
	}
	resp.Content = content.String()
	return resp, nil
}

// maxContent bounds the reply kept in memory.
const maxContent = 1 << 20

// classify wraps err with its Kind.
func classify(ctx context.Context, err error) *Error {
	var se api.StatusError
	if errors.As(err, &se) {
		msg := se.ErrorMessage
		if msg == "" {
			msg = se.Status
		}
		e := errors.New(msg)
		switch {
		case se.StatusCode == http.StatusNotFound && strings.Contains(msg, "model") && strings.Contains(msg, "not found"):
			return &Error{Kind: KindModelMissing, Status: se.StatusCode, Err: e}
		case se.StatusCode == http.StatusNotFound:
			return &Error{Kind: KindRejected, Status: se.StatusCode, Err: fmt.Errorf("%s (is the url an Ollama server?)", msg)}
		case se.StatusCode == http.StatusTooManyRequests || se.StatusCode == http.StatusRequestTimeout || se.StatusCode >= 500:
			return &Error{Kind: KindUnavailable, Status: se.StatusCode, Err: e}
		default:
			return &Error{Kind: KindRejected, Status: se.StatusCode, Err: e}
		}
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return &Error{Kind: KindRejected, Status: ae.StatusCode, Err: err}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return &Error{Kind: KindTimeout, Err: err}
	case errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled:
		return &Error{Kind: KindCanceled, Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Kind: KindTimeout, Err: err}
	}
	return &Error{Kind: KindUnavailable, Err: err}
}
