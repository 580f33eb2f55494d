package state

import (
	bolt "go.etcd.io/bbolt"
)

// LoadBins returns the incremental scans' memory of the recycle bins (scanner.BinMemory): it
// lives in the state file so that a restart does not start with a full scan.
func (f *File) LoadBins() (map[string][]byte, error) { return f.loadAll(bucketBins) }

// SaveBins writes the records that changed, and drops those of bins gone, in one transaction.
func (f *File) SaveBins(put map[string][]byte, drop []string) error {
	return f.saveAll(bucketBins, put, drop)
}

// LoadDeleters returns who deleted which version (deleters.Store): the Activity Log is asked
// about a version once, not again after each restart.
func (f *File) LoadDeleters() (map[string][]byte, error) { return f.loadAll(bucketDeleters) }

// SaveDeleters writes the records settled, and drops those of versions gone, in one transaction.
func (f *File) SaveDeleters(put map[string][]byte, drop []string) error {
	return f.saveAll(bucketDeleters, put, drop)
}

// LoadSilences returns every silence kept, by id (silence.Store).
func (f *File) LoadSilences() (map[string][]byte, error) { return f.loadAll(bucketSilences) }

// SaveSilences writes silences made or changed, and drops those gone, in one transaction.
func (f *File) SaveSilences(put map[string][]byte, drop []string) error {
	return f.saveAll(bucketSilences, put, drop)
}

// LoadSizes returns the versions' sizes remembered (retained.Store).
func (f *File) LoadSizes() (map[string][]byte, error) { return f.loadAll(bucketSizes) }

// SaveSizes writes the sizes seen and drops those of versions gone, in one transaction.
func (f *File) SaveSizes(put map[string][]byte, drop []string) error {
	return f.saveAll(bucketSizes, put, drop)
}

func (f *File) loadAll(bucket []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := f.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil { // an older file opened read-only
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append([]byte(nil), v...) // bbolt's bytes live only as long as the transaction
			return nil
		})
	})
	return out, err
}

func (f *File) saveAll(bucket []byte, put map[string][]byte, drop []string) error {
	return f.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for k, v := range put {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range drop {
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
}
