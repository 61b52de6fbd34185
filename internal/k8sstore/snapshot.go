package k8sstore

import "time"

// SnapshotWindow is how long the Secret read by a Get may answer the
// handle's next Gets of other blobs (see the package doc: a Load reads
// init.json.age, then init.json, and both answers must come from one
// read).
const SnapshotWindow = time.Second

// snapshot is the Secret as a Get read it (nil: absent), at, while the
// handle's write generation was gen; answered holds the blobs it has
// answered Gets of, the first being the Get that read it.
type snapshot struct {
	obj      *object
	at       time.Time
	gen      uint64
	answered map[string]bool
}

// recent returns the snapshot to answer a Get of name from, if any: one
// that has not answered a Get of name yet, taken less than the window ago,
// with no write of this handle begun since. So a second Get of a blob (a
// poll) always reads the Secret again.
func (s *Secret) recent(name string) (*object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.snap
	if p == nil || p.answered[name] || p.gen != s.gen || time.Since(p.at) >= s.window {
		return nil, false
	}
	p.answered[name] = true
	return p.obj, true
}

// generation is the count of write starts and ends of this handle: a
// snapshot taken while a write ran is never used.
func (s *Secret) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// keep records o, read by a Get of name that began at generation gen.
func (s *Secret) keep(name string, o *object, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snap = &snapshot{obj: o, at: time.Now(), gen: gen, answered: map[string]bool{name: true}}
}

// writing marks the start of a write of this handle, and its end when the
// returned func is called: no Get answers from a Secret read before.
func (s *Secret) writing() (done func()) {
	bump := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gen++
	}
	bump()
	return bump
}
