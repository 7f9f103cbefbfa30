package workspace

// GitReport is the result's `git` (CONTRACT section 6): the checkout after
// the turn, computed by the runner.
type GitReport struct {
	Branch       string     `json:"branch"` // "" on a detached HEAD
	Head         string     `json:"head"`
	Base         string     `json:"base"` // the commit the workspace was checked out at
	Dirty        bool       `json:"dirty"`
	FilesChanged int        `json:"filesChanged"` // base -> working tree
	Insertions   int        `json:"insertions"`
	Deletions    int        `json:"deletions"`
	Pushed       *PushedRef `json:"pushed"` // this turn's last successful push, else null
}

// PushedRef is a ref a push set, and to what.
type PushedRef struct {
	Ref string `json:"ref"`
	SHA string `json:"sha"`
}
