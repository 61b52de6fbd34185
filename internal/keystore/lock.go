package keystore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFileName is the lock file inside the data directory.
const LockFileName = ".lock"

// ErrLocked means another process holds the data dir's lock.
var ErrLocked = fmt.Errorf("data dir is locked by another process (%w)", ErrClaimed)

// TryLock takes an exclusive advisory lock (flock) on Dir()/.lock without
// waiting. It returns ErrLocked when another process holds it. Two vault-init
// processes sharing a data dir take it around initialization, so that only
// one of them ever initializes. The lock goes away with the process, so a
// crash never leaves it behind.
func (f *File) TryLock() (unlock func(), err error) {
	dir, err := f.ensureDir()
	if err != nil {
		return nil, fmt.Errorf("prepare data dir: %w", err)
	}
	fh, err := os.OpenFile(filepath.Join(dir, LockFileName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		fh.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock data dir: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
		fh.Close()
	}, nil
}
