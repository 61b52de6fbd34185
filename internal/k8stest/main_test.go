package k8stest_test

import (
	"testing"

	"github.com/aurora/vault-init/internal/k8stest"
)

// The tests share one server (k8stest.Shared), except the one that checks
// Start itself.
func TestMain(m *testing.M) { k8stest.Main(m) }
