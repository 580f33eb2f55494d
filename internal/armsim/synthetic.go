package armsim

import (
	"fmt"
	"time"
)

// Synthetic is a uniform estate for benchmarks: subs subscriptions × galleries × images ×
// versions soft-deleted versions, deleted a minute apart before now, in soft-delete galleries.
func Synthetic(now time.Time, subs, galleries, images, versions int) Estate {
	e := Estate{Subscriptions: make([]Subscription, 0, subs)}
	for s := range subs {
		sub := Subscription{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", s)}
		for g := range galleries {
			gal := Gallery{Name: fmt.Sprintf("gallery%d", g), ResourceGroup: "rg", Location: "West Europe",
				SoftDelete: &SoftDeletePolicy{Enabled: true}}
			for i := range images {
				img := Image{Name: fmt.Sprintf("image%02d", i)}
				for v := range versions {
					img.SoftDeleted = append(img.SoftDeleted, SoftDeleted{
						Version: fmt.Sprintf("1.0.%d", v), DeletedAt: now.Add(-time.Duration(s*galleries+g+i+v) * time.Minute)})
				}
				gal.Images = append(gal.Images, img)
			}
			sub.Galleries = append(sub.Galleries, gal)
		}
		e.Subscriptions = append(e.Subscriptions, sub)
	}
	return e
}
