//go:build race

package notify

const raceDetector = true
