package silence

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Backend keeps silences: the state file.
type Backend interface {
	LoadSilences() (map[string][]byte, error)
	SaveSilences(put map[string][]byte, drop []string) error
}

// ErrNotFound: no silence has that id.
var ErrNotFound = errors.New("no silence has that id")

// Store is the silences of one state file, read once and then kept in memory: the notifier asks
// about every version each scan. Safe for concurrent use (the API adds while a scan reads).
type Store struct {
	backend Backend
	mu      sync.Mutex
	list    []Silence
	loaded  bool
}

// NewStore returns the silences kept by b.
func NewStore(b Backend) *Store { return &Store{backend: b} }

func (s *Store) load() error {
	if s.loaded {
		return nil
	}
	raw, err := s.backend.LoadSilences()
	if err != nil {
		return fmt.Errorf("reading the silences: %w", err)
	}
	var errs []error
	for id, data := range raw {
		var sil Silence
		if err := json.Unmarshal(data, &sil); err != nil {
			errs = append(errs, fmt.Errorf("silence %s: %w", id, err))
			continue
		}
		s.list = append(s.list, sil)
	}
	slices.SortFunc(s.list, func(a, b Silence) int { return a.StartsAt.Compare(b.StartsAt) })
	s.loaded = true
	return errors.Join(errs...)
}

// Forget drops what was read, so the next use reads the backend again: a replica that takes
// over reads the silences its predecessor kept.
func (s *Store) Forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list, s.loaded = nil, false
}

// List returns every silence kept, active and expired, oldest first; a copy. A silence the
// file holds but that cannot be read is left out and named in the error.
func (s *Store) List() ([]Silence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.load()
	return slices.Clone(s.list), err
}

// Add keeps a silence.
func (s *Store) Add(sil Silence) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil && !s.loaded {
		return err
	}
	data, err := json.Marshal(sil)
	if err != nil {
		return err
	}
	if err := s.backend.SaveSilences(map[string][]byte{sil.ID: data}, nil); err != nil {
		return fmt.Errorf("keeping the silence: %w", err)
	}
	s.list = append(s.list, sil)
	return nil
}

// Expire ends the silence id now; one already over is left as it is.
func (s *Store) Expire(id string, now time.Time) (Silence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil && !s.loaded {
		return Silence{}, err
	}
	i := slices.IndexFunc(s.list, func(x Silence) bool { return x.ID == id })
	if i < 0 {
		return Silence{}, fmt.Errorf("silence %s: %w", id, ErrNotFound)
	}
	sil := s.list[i]
	if sil.State(now) == StateExpired {
		return sil, nil
	}
	sil.EndsAt, sil.UpdatedAt = now.UTC(), now.UTC()
	data, err := json.Marshal(sil)
	if err != nil {
		return Silence{}, err
	}
	if err := s.backend.SaveSilences(map[string][]byte{id: data}, nil); err != nil {
		return Silence{}, fmt.Errorf("expiring the silence: %w", err)
	}
	s.list[i] = sil
	return sil, nil
}

// Prune forgets the silences expired more than Retention ago.
func (s *Store) Prune(now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil && !s.loaded {
		return err
	}
	var drop []string
	kept := s.list[:0]
	for _, sil := range s.list {
		if now.Sub(sil.EndsAt) > Retention {
			drop = append(drop, sil.ID)
			continue
		}
		kept = append(kept, sil)
	}
	s.list = kept
	if len(drop) == 0 {
		return nil
	}
	return s.backend.SaveSilences(nil, drop)
}
