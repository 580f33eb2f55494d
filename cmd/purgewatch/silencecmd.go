package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/purgewatch/purgewatch/internal/humantime"
	"github.com/purgewatch/purgewatch/internal/silence"
	"github.com/purgewatch/purgewatch/internal/state"
)

// silenceFlags are `purgewatch silence`'s commands' flags; each defines the ones it uses.
type silenceFlags struct {
	config, url, comment, author *string
	args                         *[]string
	duration                     *time.Duration
	expired                      *bool
}

// silenceCommands are `purgewatch silence`'s: add, query and expire, as amtool's.
func (c *commandLine) silenceCommands(cmd *kingpin.CmdClause) {
	add := cmd.Command("add", `Mute the notifications of the versions every matcher matches: gallery=prodimages image=~"ubuntu-.*" version!=1.0.0 id=/subscriptions/….`)
	c.silenceAdd.config = configFlag(add, "")
	c.silenceAdd.url = add.Flag("url", "The running purgewatch to ask when it holds the state file (default: from server.listen).").String()
	c.silenceAdd.args = add.Arg("matcher", "name=value, name!=value, name=~regex or name!~regex, on "+strings.Join(silence.Names, ", ")+".").Required().Strings()
	c.silenceAdd.duration = durationFlag(add, "duration", 24*time.Hour, "How long the silence lasts.")
	c.silenceAdd.comment = add.Flag("comment", "Why: shown on the page beside every version it mutes.").Required().String()
	c.silenceAdd.author = add.Flag("author", "Who silences (default $USER).").Default(os.Getenv("USER")).String()
	query := cmd.Command("query", "List the active silences, or those a matcher names.")
	c.silenceQuery.config = configFlag(query, "")
	c.silenceQuery.url = query.Flag("url", "The running purgewatch to ask when it holds the state file (default: from server.listen).").String()
	c.silenceQuery.args = query.Arg("matcher", "Only silences with this matcher.").Strings()
	c.silenceQuery.expired = query.Flag("expired", "List the expired silences (kept five days) instead.").Bool()
	expire := cmd.Command("expire", "End silences now.")
	c.silenceExpire.config = configFlag(expire, "")
	c.silenceExpire.url = expire.Flag("url", "The running purgewatch to ask when it holds the state file (default: from server.listen).").String()
	c.silenceExpire.args = expire.Arg("id", "The silences' ids (silence query lists them).").Required().Strings()
}

// silenceCommand runs `purgewatch silence add|query|expire` on the state file, or through the
// running purgewatch that holds it (as `notify outbox` does).
func silenceCommand(ctx context.Context, sub string, f *silenceFlags, stdout, stderr io.Writer) int {
	cfg, stop, err := loadForCommand(*f.config, false)
	if err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	defer stop()
	if len(cfg.Notify.Channels) == 0 {
		fmt.Fprintln(stderr, "purgewatch: no notification channels are configured (notify.channels): there is nothing to silence")
		return exitFailed
	}
	base := daemonURL(cfg, *f.url)
	open := func() (*state.File, error) { return state.Open(cfg.Notify.StateFile) }
	if sub == "query" {
		open = func() (*state.File, error) { return state.OpenReadOnly(cfg.Notify.StateFile) }
	}
	file, err := open()
	held := errors.Is(err, state.ErrHeld)
	if err != nil && !held {
		fmt.Fprintln(stderr, "purgewatch:", err)
		return exitFailed
	}
	if file != nil {
		defer file.Close()
	}
	now := time.Now()
	switch sub {
	case "add":
		var ms []silence.Matcher
		for _, a := range *f.args {
			m, err := silence.ParseMatcher(a)
			if err != nil {
				fmt.Fprintln(stderr, "purgewatch:", err)
				return exitFailed
			}
			ms = append(ms, m)
		}
		s, err := silence.New(ms, *f.duration, *f.author, *f.comment, now)
		if err == nil {
			if held {
				s.ID, err = daemonAddSilence(ctx, base, s)
			} else {
				err = silence.NewStore(file).Add(s)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "purgewatch:", err)
			return exitFailed
		}
		fmt.Fprintln(stdout, s.ID)
		return exitOK
	case "expire":
		for _, id := range *f.args {
			if held {
				err = askDaemonWith(ctx, http.MethodDelete, base+"/api/v1/silences/"+neturl.PathEscape(id), nil, &struct{}{})
			} else {
				_, err = silence.NewStore(file).Expire(id, now)
			}
			if err != nil {
				fmt.Fprintln(stderr, "purgewatch:", err)
				return exitFailed
			}
			fmt.Fprintf(stdout, "expired %s\n", id)
		}
		return exitOK
	}
	var list []silence.Silence
	switch {
	case held:
		err = askDaemon(ctx, http.MethodGet, base+"/api/v1/silences", &list)
	case file != nil:
		list, err = silence.NewStore(file).List()
	}
	if err != nil {
		fmt.Fprintln(stderr, "purgewatch:", err)
		if list == nil {
			return exitFailed
		}
	}
	writeSilences(stdout, list, *f.args, *f.expired, now)
	return exitOK
}

// writeSilences is `silence query`'s table, amtool's columns.
func writeSilences(w io.Writer, list []silence.Silence, matchers []string, expired bool, now time.Time) {
	want := silence.StateActive
	if expired {
		want = silence.StateExpired
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCHERS\tENDS AT (UTC)\tCREATED BY\tCOMMENT")
	for _, s := range list {
		names := make([]string, len(s.Matchers))
		for i, m := range s.Matchers {
			names[i] = m.String()
		}
		if s.State(now) != want || slices.ContainsFunc(matchers, func(q string) bool {
			m, err := silence.ParseMatcher(q)
			return err != nil || !slices.Contains(names, m.String())
		}) {
			continue
		}
		ends := s.EndsAt.UTC().Format("2006-01-02 15:04")
		if s.EndsAt.After(now) {
			ends += " (in " + humantime.Short(s.EndsAt.Sub(now)) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, printable(strings.Join(names, " ")), ends, printable(s.CreatedBy), printable(s.Comment))
	}
	_ = tw.Flush()
}

func daemonAddSilence(ctx context.Context, base string, s silence.Silence) (string, error) {
	body, err := json.Marshal(map[string]any{"matchers": s.Matchers, "duration": model.Duration(s.EndsAt.Sub(s.StartsAt)).String(),
		"createdBy": s.CreatedBy, "comment": s.Comment})
	if err != nil {
		return "", err
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	err = askDaemonWith(ctx, http.MethodPost, base+"/api/v1/silences", body, &out)
	return out.SilenceID, err
}
