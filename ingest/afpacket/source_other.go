//go:build !linux

package afpacket

import (
	"context"
	"log/slog"
)

// Source captures one interface with a group of AF_PACKET workers. On
// this system it cannot be made: New returns ErrUnsupported.
type Source struct{}

// New validates cfg and returns ErrUnsupported: AF_PACKET is Linux's.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return nil, ErrUnsupported
}

// FanoutID returns 0.
func (s *Source) FanoutID() uint16 { return 0 }

// Run returns ErrUnsupported.
func (s *Source) Run(ctx context.Context, fn BatchFunc) error { return ErrUnsupported }

// Stats returns no counters.
func (s *Source) Stats() Stats { return Stats{} }

// Close returns nil.
func (s *Source) Close() error { return nil }
