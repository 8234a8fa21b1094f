// SPDX-License-Identifier: MIT

// Command example sends one message with the smtpc Go binding and prints what became of each
// recipient.
//
//	go run ./example -addr mail.example.org:587 -from me@example.org -to you@example.org \
//	    -user me@example.org < message.eml      (the password is read from $SMTP_PASSWORD)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"smtpc"
)

func main() {
	addr := flag.String("addr", "localhost:25", "server as host:port, or a Unix socket path")
	from := flag.String("from", "", "sender address")
	to := flag.String("to", "", "recipients, comma-separated")
	user := flag.String("user", "", "log in as this user (password from $SMTP_PASSWORD)")
	lmtp := flag.Bool("lmtp", false, "speak LMTP")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	opts := &smtpc.Options{}
	if *lmtp {
		opts.Protocol = smtpc.LMTP
	}
	c, err := smtpc.DialContext(ctx, *addr, opts)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	if *user != "" {
		// The strongest mechanism the server offers; refused unless the connection is TLS-verified
		// or local (the default TLS policy upgrades a remote connection with STARTTLS first).
		if err := c.Auth(smtpc.PasswordAuth("", *user, os.Getenv("SMTP_PASSWORD"))); err != nil {
			fail(err)
		}
	}
	// The message is streamed from standard input, whatever its size.
	env := &smtpc.Envelope{From: *from, To: strings.Split(*to, ",")}
	res, err := c.SendmailReader(ctx, env, os.Stdin, 0)
	if res != nil {
		for _, r := range res.Recipients {
			fmt.Printf("%s: %s (%v)\n", r.Address, r.State, r.Reply())
		}
	}
	if err != nil {
		fail(err)
	}
	if err := c.Quit(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	var se *smtpc.Error
	if errors.As(err, &se) && se.Reply != nil {
		fmt.Fprintf(os.Stderr, "%v (server said %d %s)\n", err, se.Reply.Code, se.Reply.Text)
	} else {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(1)
}
