// Package atomicfile replaces files so that a crash at any point leaves
// either the old file or the new one, never a part of either: a temp file in
// the same directory, 0600, written, fsynced, closed, renamed over the
// target, then the directory fsynced so that the rename itself survives a
// power cut. It is the one way vault-init writes a file that matters: the
// keystore, its small state files, and backups.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// Write replaces path with data, 0600. See WriteStream.
func Write(path string, data []byte) error {
	return WriteStream(path, func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return fmt.Errorf("write temp file: %w", err)
		}
		return nil
	})
}

// WriteStream replaces path with what fill writes to w, 0600, whatever the
// umask. fill's error, returned as it is, aborts the write. On any error
// before the rename the temp file is removed and the old file, if any, is
// left as it was. Only the directory fsync comes after the rename: when it
// fails the new file is in place but may not survive a crash, and the error
// says so.
func WriteStream(path string, fill func(w io.Writer) error) error {
	dir, name := filepath.Dir(path), filepath.Base(path)
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpName := tmp.Name()
	if err := fillAndClose(tmp, fill); err != nil {
		os.Remove(tmpName)
		return err
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("rename temp file: %w", err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s after the rename: %w", dir, err)
	}
	return nil
}

// fillAndClose makes tmp 0600, fills it, fsyncs and closes it. tmp is
// closed whatever happens.
func fillAndClose(tmp *os.File, fill func(w io.Writer) error) error {
	err := tmp.Chmod(0o600) // CreateTemp's 0600 is cut by the umask
	if err != nil {
		err = fmt.Errorf("chmod temp file: %w", err)
	} else if err = fill(tmp); err == nil {
		if serr := tmp.Sync(); serr != nil {
			err = fmt.Errorf("sync temp file: %w", serr)
		}
	}
	if cerr := tmp.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close temp file: %w", cerr)
	}
	return err
}

// Remove removes path and fsyncs its directory, so that the removal
// survives a crash. A path that does not exist is no error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", filepath.Base(path), err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// (No directory: nothing was there to remove.)
		return fmt.Errorf("sync directory %s after the removal: %w", filepath.Dir(path), err)
	}
	return nil
}

// Probe does in dir what Write does, on a file of its own, then removes it
// with Remove: it proves, before anything that must not fail is written,
// that every step a write needs works there (a temp file, write, fsync,
// rename, and the directory fsync, which some network and FUSE file systems
// refuse).
func Probe(dir string) error {
	path := filepath.Join(dir, ".probe-"+strconv.FormatUint(rand.Uint64(), 36))
	if err := Write(path, []byte("vault-init write probe\n")); err != nil {
		os.Remove(path) // in place when only the directory fsync failed
		return err
	}
	return Remove(path)
}

// failDirSync, when set, is the error every directory fsync returns: see
// FailDirSyncForTest.
var failDirSync atomic.Pointer[error]

// SyncDir fsyncs the directory dir, which makes a rename or a removal in it
// durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if e := failDirSync.Load(); e != nil {
		return *e
	}
	return d.Sync()
}

// FailDirSyncForTest makes every directory fsync of this package fail with
// err until restore is called, as on a file system that cannot fsync a
// directory (none is at hand in a test). It is for the tests of packages
// that write through this one; product code never calls it.
func FailDirSyncForTest(err error) (restore func()) {
	failDirSync.Store(&err)
	return func() { failDirSync.Store(nil) }
}
