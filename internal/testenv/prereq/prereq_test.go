package prereq

import "testing"

func TestInCIFollowsEnvironment(t *testing.T) {
	t.Setenv("CI", "true")
	if !InCI() {
		t.Fatal("InCI() = false with CI=true")
	}
	t.Setenv("CI", "")
	if InCI() {
		t.Fatal("InCI() = true with CI unset")
	}
}

func TestRequireSkipsOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Require(t, false, "thing", "get it")
	})
	if !skipped {
		t.Fatal("Require(false) outside CI did not skip")
	}
}
