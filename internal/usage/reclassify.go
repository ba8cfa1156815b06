package usage

import "time"

// Reclassification is how far a workspace's stored API calls follow its
// classification rules: every change of the rules asks for them to be
// classified again, which a background run does (internal/reclassify).
type Reclassification struct {
	// Requested counts the changes of the rules; Started is the change
	// the latest run took up.
	Requested, Started int64
	RequestedAt        time.Time
	StartedAt          time.Time
	// UpdatedAt is when the run last reported progress: a run that stopped
	// reporting (its process ended) is taken up again.
	UpdatedAt  time.Time
	FinishedAt time.Time
	// Done of Total are the run's steps, in the store's units (days of
	// calls, or a rewrite of the events and days of rollups).
	Done, Total int64
	// Changed is how many calls the latest finished run classified
	// differently.
	Changed int64
	// Error is why the latest run failed, "" when it did not.
	Error string
}

// Reclassification states, as the API and the console name them.
const (
	ReclassNone    = "none"    // the rules never changed
	ReclassPending = "pending" // changed, no run took the change up yet
	ReclassRunning = "running"
	ReclassDone    = "done"
	ReclassFailed  = "failed"
)

// State is one of the Reclass states.
func (r Reclassification) State() string {
	switch {
	case r.Requested == 0:
		return ReclassNone
	case r.Requested > r.Started:
		return ReclassPending
	case r.FinishedAt.Before(r.StartedAt):
		return ReclassRunning
	case r.Error != "":
		return ReclassFailed
	}
	return ReclassDone
}

// ReclassClaim is a reclassification run a process took up: Resumed when
// a run of the same change stopped part way before.
type ReclassClaim struct {
	WorkspaceID int64
	Resumed     bool
}
