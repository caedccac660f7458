package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// positionsVersion is the format version of the positions file.
const positionsVersion = 1

// position is one file's checkpoint: its identity, the last path it was
// read through, and the durable offset (end of the last line whose
// acknowledgement completed the in-order prefix) with that line's number.
type position struct {
	Path   string  `json:"path"`
	ID     FileID  `json:"id"`
	Check  fpCheck `json:"check"`
	Offset int64   `json:"offset"`
	Line   int64   `json:"line"`
}

type positionsFile struct {
	Version int        `json:"version"`
	Files   []position `json:"files"`
}

// loadPositions reads the positions file; a missing file is no positions.
func loadPositions(path string) ([]position, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tail: positions file: %w", err)
	}
	var pf positionsFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("tail: positions file %s: %w (move it aside to start over)", path, err)
	}
	if pf.Version != positionsVersion {
		return nil, fmt.Errorf("tail: positions file %s: version %d, want %d", path, pf.Version, positionsVersion)
	}
	return pf.Files, nil
}

// savePositions writes the positions file atomically: a temporary file in
// the same directory, fsync, rename over the old one, fsync the directory.
func savePositions(path string, files []position) error {
	b, err := json.MarshalIndent(positionsFile{Version: positionsVersion, Files: files}, "", " ")
	if err != nil {
		return fmt.Errorf("tail: positions: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("tail: positions: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("tail: positions: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("tail: positions: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tail: positions: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tail: positions: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tail: positions: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tail: positions: sync dir: %w", err)
	}
	return nil
}
