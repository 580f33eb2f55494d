package state

import (
	bolt "go.etcd.io/bbolt"
)

// LoadBins returns the incremental scans' memory of the recycle bins (scanner.BinMemory): it
// lives in the state file so that a restart does not start with a full scan.
func (f *File) LoadBins() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := f.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBins)
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

// SaveBins writes the records that changed, and drops those of bins gone, in one transaction.
func (f *File) SaveBins(put map[string][]byte, drop []string) error {
	return f.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBins)
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
