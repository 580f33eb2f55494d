package armsim

import (
	"fmt"
	"time"
)

// Churn moves n versions through the recycle bins, one image definition at a time in turn: each
// loses its oldest soft-deleted version (it left the bin, neither recovered nor purged) and gains
// one deleted at now. The estate keeps its size; what purgewatch must resolve and announce is n
// versions a round. It returns how many moved (fewer when the estate has fewer image definitions
// holding a version).
func (s *Server) Churn(n int, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var images []*Image
	for si := range s.estate.Subscriptions {
		sub := &s.estate.Subscriptions[si]
		for gi := range sub.Galleries {
			for ii := range sub.Galleries[gi].Images {
				if img := &sub.Galleries[gi].Images[ii]; len(img.SoftDeleted) > 0 {
					images = append(images, img)
				}
			}
		}
	}
	moved := 0
	for ; moved < n && moved < len(images); moved++ {
		img := images[(s.churned+moved)%len(images)]
		img.SoftDeleted = append(img.SoftDeleted[1:], SoftDeleted{
			Version: fmt.Sprintf("9.%d.%d", s.churned/len(images)+1, s.churned+moved), DeletedAt: now})
	}
	s.churned += moved
	return moved
}
