package queries

import "context"

// RecallWithScores is Recall answered with the parts of each score.
type RecallWithScores struct {
	Recall
}

// RecallWithScoresHandler handles RecallWithScores.
type RecallWithScoresHandler struct{ c *core }

// Handle is RecallHandler.Handle; the caller shows each Match's Score,
// Cosine and ImportanceNorm next to its record.
func (h *RecallWithScoresHandler) Handle(ctx context.Context, q RecallWithScores) ([]Match, error) {
	return h.c.recall(ctx, q.Recall)
}
