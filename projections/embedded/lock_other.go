//go:build !unix

package embedded

import (
	"fmt"
	"os"
)

// lockDir opens the lock file; without flock, a second process is not
// kept out (see lock_unix.go).
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}
