// Package disktest makes loop-mounted file systems for tests of disk limits
// (btrfs, ext4, ext4 with project quotas), undone when the test ends.
package disktest
