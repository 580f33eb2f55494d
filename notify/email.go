package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/wneessen/go-mail"

	"github.com/purgewatch/purgewatch/internal/config"
)

// email sends an HTML and plain-text digest over SMTP with go-mail.
type email struct {
	base
	cfg config.Channel
}

func newEmail(b base, c config.Channel) (*email, error) {
	return &email{base: b, cfg: c}, nil
}

func (e *email) MaxEvents() int { return 200 }

func (e *email) message(m Message) (*mail.Msg, error) {
	data := newMessageData(m)
	subject, err := e.tmpl.render("subject", data)
	if err != nil {
		return nil, err
	}
	data.Summary = strings.TrimPrefix(subject, "[purgewatch] ")
	text, err := e.tmpl.render("text", data)
	if err != nil {
		return nil, err
	}
	html, err := e.tmpl.renderHTML("html", data)
	if err != nil {
		return nil, err
	}
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", e.cfg.From, err)
	}
	if err := msg.To(e.cfg.To...); err != nil {
		return nil, fmt.Errorf("to %v: %w", e.cfg.To, err)
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, nil
}

func (e *email) Render(m Message) (Rendered, error) {
	msg, err := e.message(m)
	if err != nil {
		return Rendered{}, err
	}
	var b bytes.Buffer
	if _, err := msg.WriteTo(&b); err != nil {
		return Rendered{}, err
	}
	subject := ""
	if s := msg.GetGenHeader(mail.HeaderSubject); len(s) > 0 {
		subject = s[0]
	}
	return Rendered{Subject: subject, ContentType: "message/rfc822", Body: b.Bytes()}, nil
}

func (e *email) Send(ctx context.Context, m Message) error {
	msg, err := e.message(m)
	if err != nil {
		return unrenderable(err)
	}
	s := e.cfg.SMTP
	opts := []mail.Option{mail.WithPort(s.Port), mail.WithTimeout(e.cfg.Timeout)}
	switch s.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default: // starttls
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	client, err := mail.NewClient(s.Host, opts...)
	if err != nil {
		return e.clean(&SendError{Err: fmt.Errorf("smtp %s: %w", s.Host, err), Refused: true})
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return e.clean(&SendError{Err: fmt.Errorf("smtp %s:%d: %w", s.Host, s.Port, err), Refused: refusedBySMTP(err)})
	}
	return nil
}

// refusedBySMTP: the server answered 5xx to the message (a recipient or sender it will not take),
// which sending again cannot change. Connection and authentication trouble, and 4xx, pass.
func refusedBySMTP(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) || se.IsTemp() {
		return false
	}
	code := se.ErrorCode()
	return code >= 500 && code < 600 && code != 530 && code != 535 // 530/535: authentication, fixed by a config change
}
