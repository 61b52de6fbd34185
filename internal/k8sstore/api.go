package k8sstore

import (
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fetch GETs the Secret: nil (and no error) when the API server says that
// it does not exist; an error when the call fails or the Secret is
// foreign.
func (s *Secret) fetch() (*object, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	var o object
	err := s.api.Get().Namespace(s.namespace).Resource("secrets").Name(s.name).Do(ctx).Into(&o)
	switch {
	case s.absent(err):
		s.note(nil)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get secret %s: %w", s.ref(), err)
	}
	if err := s.owned(&o); err != nil {
		s.note(nil)
		return nil, err
	}
	s.note(&o)
	return &o, nil
}

// absent reports the API server's own 404 for this Secret. A 404 that is
// not its Status (a proxy's, a path that is not the Kubernetes API) is an
// error like any other: "could not read" is never "there is nothing".
func (s *Secret) absent(err error) bool {
	var st apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	if d == nil || d.Kind != "secrets" || d.Name != s.name {
		return false
	}
	for _, c := range d.Causes {
		if c.Type == metav1.CauseTypeUnexpectedServerResponse {
			return false
		}
	}
	return true
}

// owned refuses a Secret that vault-init did not write.
func (s *Secret) owned(o *object) error {
	v, ok := o.Labels[LabelManagedBy]
	switch {
	case v == ManagedBy:
		return nil
	case ok:
		return fmt.Errorf("secret %s %w (label %s=%s, not %s): refusing to read or overwrite it", s.ref(), ErrForeign, LabelManagedBy, v, ManagedBy)
	}
	return fmt.Errorf("secret %s %w (it lacks the label %s=%s): refusing to read or overwrite it", s.ref(), ErrForeign, LabelManagedBy, ManagedBy)
}

// writable refuses to write an immutable Secret: the API server would
// reject every change of its data, so it can never take (new) keys. Its
// keys, if any, still read.
func (s *Secret) writable(o *object) error {
	if o != nil && immutable(o) {
		return fmt.Errorf("secret %s %w: vault-init can never write keys to it; recreate it without immutable (copy out any keys it holds first)", s.ref(), ErrImmutable)
	}
	return nil
}

func immutable(o *object) bool { return o.Immutable != nil && *o.Immutable }

// newObject is the Secret as vault-init creates it: labelled, Opaque, and
// never with an owner reference (garbage collection would take the keys).
func (s *Secret) newObject() *object {
	return &object{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.name, Namespace: s.namespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelName: ManagedBy},
		},
		Type: "Opaque",
	}
}

// create POSTs o (a server-side dry run when dry).
func (s *Secret) create(o *object, dry bool) error {
	ctx, cancel := s.ctx()
	defer cancel()
	opts := &metav1.CreateOptions{}
	if dry {
		opts.DryRun = dryRun
	}
	return s.api.Post().Namespace(s.namespace).Resource("secrets").
		VersionedParams(opts, metav1.ParameterCodec).Body(o).Do(ctx).Error()
}

// update PUTs o, with the resourceVersion it was read with: a 409 when the
// Secret changed since (a server-side dry run when dry).
func (s *Secret) update(o *object, dry bool) error {
	ctx, cancel := s.ctx()
	defer cancel()
	opts := &metav1.UpdateOptions{}
	if dry {
		opts.DryRun = dryRun
	}
	return s.api.Put().Namespace(s.namespace).Resource("secrets").Name(s.name).
		VersionedParams(opts, metav1.ParameterCodec).Body(o).Do(ctx).Error()
}
