package keystore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// PauseFileName marks the data dir as "sealed on purpose": while it exists,
// vault-init neither initializes nor unseals. It survives restarts.
const PauseFileName = "paused"

// Pause is what the mark records.
type Pause struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
}

// SetPause writes the mark, atomically.
func (f *File) SetPause(reason string) error {
	raw, _ := json.Marshal(Pause{Since: time.Now().UTC(), Reason: reason})
	return f.saveSmall(PauseFileName, string(raw))
}

// ClearPause removes the mark. Removing an absent mark is not an error.
func (f *File) ClearPause() error { return f.remove(PauseFileName) }

// Paused returns the mark, or nil when there is none. A mark that exists
// but cannot be read still counts as paused: when in doubt, leave Vault alone.
func (f *File) Paused() (*Pause, error) {
	var p Pause
	dir, err := f.where()
	if err != nil {
		return &p, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, PauseFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return &p, fmt.Errorf("read pause mark: %w", err)
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return &p, fmt.Errorf("decode pause mark: %w", err)
	}
	return &p, nil
}
