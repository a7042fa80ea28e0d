// kubelet-portforward: the lane's stand-in for one Node's kubelet, for port-forwards only, made of the real kubelet's
// streaming code. It serves HTTPS on the Node's InternalIP and kubelet port the kubelet's `/portForward/{namespace}/
// {pod}[/{uid}]` endpoint (the routes of pkg/kubelet/server/server.go in k8s.io/kubernetes v1.37.2) with
// k8s.io/cri-streaming's portforward.ServePortForward: the code the real kubelet (and the CRI runtime's streaming
// server it redirects to) runs, speaking SPDY (portforward.k8s.io) and WebSocket (v4.channel.k8s.io), as they do.
//
// What differs from a real kubelet, and why:
//   - Its PortForwarder dials the Pod's IP and port from 127.0.0.1, and only an IP of this machine (else an error on
//     the stream: a fixture Pod's 10.x address is never dialled). A container runtime dials localhost:PORT inside the
//     Pod's network namespace (containerd internal/cri/server/sandbox_portforward_linux.go), so the process in the Pod
//     sees a loopback peer; the lane's Pods share the machine's namespace and each has its own address on lo, so the
//     stand-in dials that address from the loopback address: the peer is loopback, as in the Pod.
//   - No CRI hop: the real kubelet answers with a redirect to the runtime's streaming server (or proxies to it); here
//     ServePortForward runs in the kubelet's handler. The bytes on the wire to the API server are the same.
//   - It knows Pods by asking the API server for each one (a real kubelet watches the Pods bound to its Node); like the
//     kubelet it serves only Pods bound to its Node (else 404 "pod does not exist", server.go getPortForward).
//   - Authentication: the API server's client certificate must be signed by --client-ca (the kubelet's
//     --client-ca-file); no SubjectAccessReview of nodes/proxy (the API server already authorized pods/portforward).
//
// The serving certificate is minted at start for --address, signed by --serving-ca/--serving-ca-key, so the API server
// verifies it with --kubelet-certificate-authority as it verifies a real kubelet's.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
)

type pod struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		UID       string `json:"uid"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		PodIP string `json:"podIP"`
	} `json:"status"`
}

type kubelet struct {
	node     string
	api      string
	token    string
	apiHTTP  *http.Client
	dialFrom string
	mu       sync.Mutex
	ips      map[string]string // "ns/name/uid" -> pod IP, filled by GetPod for the forwarder
	logf     func(string, ...any)
}

func (k *kubelet) getPod(ctx context.Context, ns, name string) (*pod, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s", k.api, ns, name), nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+k.token)
	resp, err := k.apiHTTP.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, resp.StatusCode, nil
	}
	var p pod
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return nil, 0, err
	}
	return &p, 200, nil
}

// PortForward implements portforward.PortForwarder: copy between the stream and the Pod's port.
func (k *kubelet) PortForward(ctx context.Context, name string, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	k.mu.Lock()
	ip := k.ips[name+"/"+uid]
	k.mu.Unlock()
	if ip == "" {
		return fmt.Errorf("pod %s (uid %s) has no IP", name, uid)
	}
	// Never off this machine: a lane Pod's IP is an address on lo (a fixture's Pod may keep an address such as 10.x,
	// which must never be dialled).
	if !isLocal(ip) {
		return fmt.Errorf("pod %s IP %s is not an address of this machine: not dialled", name, ip)
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	if k.dialFrom != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(k.dialFrom)}
	}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))))
	if err != nil {
		// The same wording as the runtime's error, which the client reads on the error stream.
		return fmt.Errorf("failed to connect to localhost:%d inside namespace of pod %s: %v", port, name, err)
	}
	defer conn.Close()
	k.logf("forward %s port %d -> %s", name, port, conn.RemoteAddr())
	errc := make(chan error, 2)
	go func() { _, err := io.Copy(conn, stream); conn.(*net.TCPConn).CloseWrite(); errc <- err }()
	go func() { _, err := io.Copy(stream, conn); errc <- err }()
	// Like the runtime: done when the Pod's side is done (the client closing its data stream half-closes the dial).
	select {
	case <-ctx.Done():
		return ctx.Err()
	case e := <-errc:
		if e != nil {
			return e
		}
		return <-errc
	}
}

// isLocal: the address is loopback or assigned to an interface of this machine.
func isLocal(ip string) bool {
	a := net.ParseIP(ip)
	if a == nil {
		return false
	}
	if a.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok && n.IP.Equal(a) {
			return true
		}
	}
	return false
}

func (k *kubelet) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// /portForward/{podNamespace}/{podID}[/{uid}], GET or POST (server.go InstallDebuggingHandlers... "portForward").
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/portForward/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/portForward/") || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ns, name := parts[0], parts[1]
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, status, err := k.getPod(r.Context(), ns, name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if status != 200 || p.Spec.NodeName != k.node {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return
	}
	if len(parts) == 3 && parts[2] != p.Metadata.UID {
		http.Error(w, "pod not found", http.StatusNotFound)
		return
	}
	if p.Status.PodIP == "" {
		http.Error(w, "pod has no IP", http.StatusInternalServerError)
		return
	}
	// The runtime names the sandbox; the forwarder needs the Pod's address.
	key := ns + "/" + name
	k.mu.Lock()
	k.ips[key+"/"+p.Metadata.UID] = p.Status.PodIP
	k.mu.Unlock()
	k.logf("%s %s from %s (%s)", r.Method, r.URL.RequestURI(), r.RemoteAddr, r.Header.Get("Upgrade"))
	portforward.ServePortForward(w, r, k, key, p.Metadata.UID, opts,
		4*time.Hour, // the kubelet's --streaming-connection-idle-timeout default
		30*time.Second, // streaming.DefaultConfig.StreamCreationTimeout
		portforward.SupportedProtocols)
}

func mintServing(caCert, caKey, address string) (tls.Certificate, error) {
	cb, err := os.ReadFile(caCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	kb, err := os.ReadFile(caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	cblk, _ := pem.Decode(cb)
	if cblk == nil {
		return tls.Certificate{}, errors.New("serving CA: no PEM")
	}
	ca, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return tls.Certificate{}, err
	}
	var signer any
	for rest := kb; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			signer, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			signer, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			signer, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return tls.Certificate{}, err
		}
		break
	}
	if signer == nil {
		return tls.Certificate{}, errors.New("serving CA key: no private key")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "kubelet-" + address},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(address)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, signer)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func main() {
	var (
		node      = flag.String("node-name", "", "the Node this kubelet serves: only Pods with spec.nodeName equal to it")
		address   = flag.String("address", "", "the Node's InternalIP to listen on")
		port      = flag.Int("port", 10250, "the kubelet port (the Node's status.daemonEndpoints.kubeletEndpoint.port)")
		api       = flag.String("apiserver", "", "the API server URL, to look Pods up")
		tokenFile = flag.String("token-file", "", "a file holding the bearer token for the API server")
		apiCA     = flag.String("apiserver-ca", "", "the CA of the API server's serving certificate")
		servCA    = flag.String("serving-ca", "", "CA certificate that signs this kubelet's serving certificate")
		servCAKey = flag.String("serving-ca-key", "", "its key")
		clientCA  = flag.String("client-ca", "", "CA of the client certificates accepted (the kubelet's --client-ca-file)")
		dialFrom  = flag.String("dial-from", "127.0.0.1", "the local address the forwarder dials Pods from (empty: the kernel's choice)")
		readyFile = flag.String("ready-file", "", "written with the listen address once serving")
		verbose   = flag.Bool("v", false, "log each request and forward")
	)
	flag.Parse()
	if *node == "" || *address == "" || *api == "" || *tokenFile == "" || *apiCA == "" || *servCA == "" || *servCAKey == "" || *clientCA == "" {
		fmt.Fprintln(os.Stderr, "kubelet-portforward: --node-name, --address, --apiserver, --token-file, --apiserver-ca, --serving-ca, --serving-ca-key and --client-ca are required")
		os.Exit(2)
	}
	token, err := os.ReadFile(*tokenFile)
	if err != nil {
		log.Fatal(err)
	}
	apiPool := x509.NewCertPool()
	if b, err := os.ReadFile(*apiCA); err != nil || !apiPool.AppendCertsFromPEM(b) {
		log.Fatalf("--apiserver-ca: %v", err)
	}
	clientPool := x509.NewCertPool()
	if b, err := os.ReadFile(*clientCA); err != nil || !clientPool.AppendCertsFromPEM(b) {
		log.Fatalf("--client-ca: %v", err)
	}
	cert, err := mintServing(*servCA, *servCAKey, *address)
	if err != nil {
		log.Fatalf("serving certificate: %v", err)
	}
	logf := func(string, ...any) {}
	if *verbose {
		logf = log.Printf
	}
	k := &kubelet{
		node:     *node,
		api:      strings.TrimRight(*api, "/"),
		token:    strings.TrimSpace(string(token)),
		apiHTTP:  &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: apiPool}}},
		dialFrom: *dialFrom,
		ips:      map[string]string{},
		logf:     logf,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*address, strconv.Itoa(*port)))
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(k.serveHTTP),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    clientPool,
			MinVersion:   tls.VersionTLS12,
			// The API server's upgrade-aware proxy speaks HTTP/1.1 to the kubelet for streams.
			NextProtos: []string{"http/1.1"},
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("kubelet-portforward for node %s serving https://%s/portForward/", *node, ln.Addr())
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		os.Exit(0)
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
