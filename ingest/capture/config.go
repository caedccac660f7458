package capture

import "fmt"

// Read buffer bounds.
const (
	// DefaultReadBufferSize is the read buffer of a file when the Config
	// does not say.
	DefaultReadBufferSize = 1 << 20
	// MinReadBufferSize and MaxReadBufferSize bound Config.ReadBufferSize.
	MinReadBufferSize = 64 << 10
	MaxReadBufferSize = 256 << 20
)

// Config tunes how capture files are read. The zero value is not valid;
// start from DefaultConfig.
type Config struct {
	// ReadBufferSize is the size in bytes of the buffer each file is read
	// through (one per open file; a Merger holds one per input). Larger
	// means fewer system calls. Records longer than the buffer still read:
	// the buffer grows for them.
	ReadBufferSize int `yaml:"read_buffer_size"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{ReadBufferSize: DefaultReadBufferSize}
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	if c.ReadBufferSize < MinReadBufferSize || c.ReadBufferSize > MaxReadBufferSize {
		return fmt.Errorf("capture: read_buffer_size %d out of range [%d, %d]",
			c.ReadBufferSize, MinReadBufferSize, MaxReadBufferSize)
	}
	return nil
}
