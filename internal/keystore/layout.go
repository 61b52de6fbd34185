package keystore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// SubdirName is the directory, 0700, that vault-init makes for its files
// inside a data dir it does not own: a Kubernetes emptyDir (root's, 0777),
// a volume under fsGroup (root:group, 2775), a host directory of another
// user. Only a directory's owner may chmod it, so such a mount point cannot
// be made private; a directory of vault-init's own can. It is named after
// the program because the mount may hold other things (lost+found on a
// volume's root, a host directory's files), and `ls` then says whose it is.
const SubdirName = "vault-init"

// ErrTwoKeystores means that the data dir holds vault-init's files at its
// top level and a keystore in SubdirName too: which one is current is for
// a person to decide.
var ErrTwoKeystores = errors.New("two keystores")

// stateFiles are the files that hold state. Any of them at the data dir's
// top level means the layout of the files is the top level one (every
// vault-init before SubdirName existed wrote there). The lock file is not
// one: it holds nothing, and any run creates it.
var stateFiles = []string{FileName, AgeFileName, PauseFileName, AppTokenFileName, NonceFileName}

// geteuid is os.Geteuid; the tests of the rules replace it.
var geteuid = os.Geteuid

// where returns the directory that holds the keystore's files. It is a
// function of what is on disk and of the effective user only, so that the
// sidecar and a `vault-init status` or `pause` run beside it always agree.
// The rules, in order:
//
//  1. a state file at the top level: the top level (as before SubdirName);
//  2. SubdirName exists: SubdirName;
//  3. the data dir is ours (our euid owns it and nobody else may write in
//     it, or it does not exist yet): the top level, made 0700;
//  4. otherwise: SubdirName, which ensureDir creates 0700.
//
// A state file at the top level and a keystore in SubdirName is
// ErrTwoKeystores. It touches nothing on disk.
func (f *File) where() (string, error) {
	sub := filepath.Join(f.dataDir, SubdirName)
	top := present(f.dataDir, stateFiles)
	switch {
	case len(top) > 0:
		if inSub := present(sub, []string{FileName, AgeFileName}); len(inSub) > 0 {
			return f.dataDir, fmt.Errorf("%w: %s holds %s, and %s holds %s: keep the current one, move the other away",
				ErrTwoKeystores, f.dataDir, strings.Join(top, ", "), sub, strings.Join(inSub, ", "))
		}
		return f.dataDir, nil
	case exists(sub):
		if st, err := os.Lstat(sub); err == nil && !st.IsDir() {
			return sub, fmt.Errorf("%s exists and is not a directory: vault-init keeps its keys only in a directory of its own", sub)
		}
		return sub, nil
	case f.ownsDataDir():
		return f.dataDir, nil
	}
	return sub, nil
}

// present lists the names that exist in dir.
func present(dir string, names []string) []string {
	var found []string
	for _, n := range names {
		if exists(filepath.Join(dir, n)) {
			found = append(found, n)
		}
	}
	return found
}

// ownsDataDir reports whether the data dir is vault-init's own: our euid
// owns it and nobody else may write in it, or it does not exist yet
// (MkdirAll then makes it ours). Root gets no exception: a shared mount
// (0777, or a group's 2775) gets the subdirectory whoever looks at it, so
// that the sidecar and a root `docker exec` agree on where the keys are. A
// data dir that cannot be looked at counts as ours: the first use reports
// why it cannot be used.
func (f *File) ownsDataDir() bool {
	st, err := os.Stat(f.dataDir)
	if err != nil {
		return true
	}
	uid, ok := owner(st)
	return !ok || (uid == geteuid() && st.Mode().Perm()&0o022 == 0)
}

// owner is the uid that owns a file, when the platform says.
func owner(st fs.FileInfo) (int, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}

// mustOwn refuses to write in dir unless vault-init's user owns it: files
// that another user (root, in a docker exec) wrote there would be its own,
// and the sidecar could not read them.
func mustOwn(dir string) error {
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	// The real euid, not the rules' geteuid: what matters is who will own
	// the files written now.
	if uid, me := owner(st); me && uid != os.Geteuid() {
		return fmt.Errorf("%s belongs to uid %d and vault-init runs as uid %d: run it as uid %d "+
			"(docker exec and kubectl exec do, unless told otherwise)", dir, uid, os.Geteuid(), uid)
	}
	return nil
}

// Dir is the directory that holds the keystore's files: the data dir, or
// its SubdirName (see where). When the layout is in conflict it is the data
// dir, and every method that reads or writes returns the conflict.
func (f *File) Dir() string {
	dir, _ := f.where()
	return dir
}

// DataDir is the data directory the keystore was made with.
func (f *File) DataDir() string { return f.dataDir }

// ensureDir makes the directory where says, 0700 whatever the umask, so
// that the keys are never readable by anyone else, and returns it.
func (f *File) ensureDir() (string, error) {
	dir, err := f.where()
	if err != nil {
		return "", err
	}
	if dir == f.dataDir {
		return dir, f.ensureTop()
	}
	return dir, ensureSub(dir)
}

// ensureTop makes the data dir itself private (layout rules 1 and 3).
func (f *File) ensureTop() error {
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return err
	}
	err := os.Chmod(f.dataDir, 0o700)
	if err == nil {
		return mustOwn(f.dataDir)
	}
	if files := present(f.dataDir, stateFiles); errors.Is(err, fs.ErrPermission) && len(files) > 0 {
		return fmt.Errorf("make the data dir private: %w: it holds vault-init's files (%s) at its top level, as vault-init "+
			"wrote them before it made %s for itself, and only the directory's owner can make it private: "+
			"give the directory to uid %d (chown), or move those files into %s",
			err, strings.Join(files, ", "), SubdirName, geteuid(), filepath.Join(f.dataDir, SubdirName))
	}
	return fmt.Errorf("make the data dir private: %w", err)
}

// ensureSub makes vault-init's own directory in a data dir it does not own
// (layout rules 2 and 4). One that is not a directory, or not ours (chmod
// fails), is refused: the keys go only where nobody else can read them.
func ensureSub(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s in a data dir vault-init does not own: %w", dir, err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if err := mustOwn(dir); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("make %s private: %w (it must belong to vault-init's uid %d)", dir, err, geteuid())
	}
	return nil
}
