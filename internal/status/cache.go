package status

import (
	"encoding/json"
	"os"
	"time"

	"github.com/aurora/vault-init/internal/atomicfile"
)

// DefaultMountCheckEvery is how often the container healthcheck checks the
// mount through Vault. That check is an authenticated request, and Vault's
// audit devices record each one (about 6 KB): at the healthcheck's 5 s that
// was about 105 MB of audit log a day, against about 1.7 MB now.
const DefaultMountCheckEvery = 5 * time.Minute

// MountCache remembers the last successful mount check, so that a
// healthcheck run every few seconds asks Vault about the mount only now and
// then. Each node's seal state is still asked on every run, through
// sys/health, which needs no token and is not audited. A failed check is
// never remembered: the next run checks again.
type MountCache struct {
	Path   string        // a small file, not secret, in the data dir
	MaxAge time.Duration // a check older than this is made again
}

// mountCheck is the cache file's content.
type mountCheck struct {
	Mount     string    `json:"mount"`
	CheckedAt time.Time `json:"checked_at"`
}

// fresh reports whether mount was found in place less than MaxAge ago.
func (c *MountCache) fresh(mount string, now time.Time) bool {
	raw, err := os.ReadFile(c.Path)
	if err != nil || len(raw) > 1024 {
		return false
	}
	var m mountCheck
	if json.Unmarshal(raw, &m) != nil || m.Mount != mount {
		return false
	}
	age := now.Sub(m.CheckedAt)
	return age >= 0 && age < c.MaxAge
}

// record remembers a successful check of mount. It is a cache: a failure to
// write it only means that the next run checks again.
func (c *MountCache) record(mount string, now time.Time) {
	raw, _ := json.Marshal(mountCheck{Mount: mount, CheckedAt: now.UTC()})
	_ = atomicfile.Write(c.Path, raw)
}
