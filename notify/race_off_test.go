//go:build !race

package notify

const raceDetector = false
