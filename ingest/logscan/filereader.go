package logscan

// The file-reading loop of the decoders' readers.

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// LineDecoder decodes the lines of one file or stream for a FileReader:
// a per-file decoder together with whatever keeps the records it yields.
type LineDecoder interface {
	// DecodeLine decodes one line (without its "\n") and keeps what it
	// yields. A rejected line returns a *LineError.
	DecodeLine(line []byte) error
	// SkipLine counts a line that the FileReader skipped for being
	// longer than MaxLineBytes (as ReasonLineTooLong; the FileReader
	// samples its LineError).
	SkipLine()
}

// FileReader reads log files and streams (plain or gzip) line by line into
// LineDecoders, as the whole-file readers of ingest/zeek and ingest/eve do:
// it opens the files, skips the lines over MaxLineBytes, keeps the first
// MaxErrorSamples rejected lines in Errors and stops only at an error of
// the file itself. Set its fields before use. A FileReader is not safe for
// concurrent use.
type FileReader struct {
	// Prefix starts the messages of the errors it returns ("zeek").
	Prefix string
	// MaxLineBytes bounds one line (not counting the "\n"); a longer line
	// goes to LineDecoder.SkipLine.
	MaxLineBytes int
	// MaxErrorSamples is how many LineErrors to keep in Errors; 0 or less
	// keeps none.
	MaxErrorSamples int
	// Errors holds the first MaxErrorSamples rejected lines, in order.
	Errors []*LineError
}

// ReadFiles opens each of paths in turn and calls read with it, named by
// its path, stopping at the first error. A file that does not open is the
// error "<prefix>: <the error of os.Open>".
func (fr *FileReader) ReadFiles(paths []string, read func(r io.Reader, name string) error) error {
	for _, p := range paths {
		if err := fr.readFile(p, read); err != nil {
			return err
		}
	}
	return nil
}

func (fr *FileReader) readFile(path string, read func(r io.Reader, name string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", fr.Prefix, err)
	}
	defer f.Close()
	return read(f, path)
}

// ReadLines reads r to its end, decompressing gzip input (see
// NewLineReader), and hands each line to dec, or, for a line longer than
// MaxLineBytes, tells dec it skipped one. It returns nil at the end of
// r; rejected lines are counted by dec and sampled in Errors, not
// returned. Only a read error of r is: "<prefix>: read <name>: <err>" for a
// gzip header that does not read, else "<prefix>: read <name> after line
// <n>: <err>", n being the number of lines read before it.
func (fr *FileReader) ReadLines(r io.Reader, name string, dec LineDecoder) error {
	lr, err := NewLineReader(r, fr.MaxLineBytes)
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", fr.Prefix, name, err)
	}
	var n int64
	for {
		line, tooLong, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read %s after line %d: %w", fr.Prefix, name, n, err)
		}
		n++
		if tooLong > 0 {
			dec.SkipLine()
			if fr.sampling() {
				fr.Errors = append(fr.Errors, newLineTooLong(name, n, tooLong, fr.MaxLineBytes))
			}
			continue
		}
		if err := dec.DecodeLine(line); err != nil {
			var le *LineError
			if errors.As(err, &le) && fr.sampling() {
				fr.Errors = append(fr.Errors, le)
			}
		}
	}
}

// sampling reports whether Errors has room for another sample.
func (fr *FileReader) sampling() bool {
	return fr.MaxErrorSamples > 0 && len(fr.Errors) < fr.MaxErrorSamples
}
