package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// creditsUsed prints this month's credits used by the key's account, read
// through GET /v1/usage. With -plan it first waits (up to a minute) until
// the account is on that plan: a plan set with `enhancectl admin set-plan`
// reaches a running server within seconds.
func creditsUsed(args []string) error {
	fs := flag.NewFlagSet("credits", flag.ContinueOnError)
	rest := fs.String("rest", "", "the REST base URL (https://127.0.0.1:PORT)")
	ca := fs.String("ca", "", "the development CA")
	keyFile := fs.String("key-file", "", "file holding the API key")
	plan := fs.String("plan", "", "wait until the account is on this plan")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rest == "" || *ca == "" || *keyFile == "" {
		return errors.New("credits: -rest, -ca and -key-file are required")
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(*ca)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("credits: no certificate in %s", *ca)
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for deadline := time.Now().Add(time.Minute); ; {
		u, err := usage(c, *rest, strings.TrimSpace(string(key)))
		if err != nil {
			return err
		}
		if *plan == "" || u.Plan == *plan {
			fmt.Println(u.CreditsUsed)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("credits: the account is still on plan %q, not %q, after a minute", u.Plan, *plan)
		}
		time.Sleep(time.Second)
	}
}

type usageAnswer struct {
	Plan        string `json:"plan"`
	CreditsUsed int    `json:"creditsUsed"`
}

func usage(c *http.Client, base, key string) (usageAnswer, error) {
	req, err := http.NewRequest(http.MethodGet, base+"/v1/usage?pageSize=1", nil)
	if err != nil {
		return usageAnswer{}, err
	}
	req.Header.Set("x-api-key", key)
	resp, err := c.Do(req)
	if err != nil {
		return usageAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return usageAnswer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return usageAnswer{}, fmt.Errorf("credits: GET /v1/usage: %s %s", resp.Status, body)
	}
	var u usageAnswer
	if err := json.Unmarshal(body, &u); err != nil {
		return usageAnswer{}, fmt.Errorf("credits: GET /v1/usage: %w", err)
	}
	return u, nil
}
