//! A real Kubernetes control plane for tests: etcd (Debian's `etcd-server`) and kube-apiserver
//! 1.20.2 (built from Debian's source by `tests/scripts/install-control-plane.sh`), on loopback,
//! with TLS, a static admin token and RBAC. kube and kubectl both talk to it.
//!
//! There is no controller-manager: nothing garbage-collects owned objects or finishes
//! namespace deletion, so tests clean up what they need cleaned themselves.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// How long etcd and the apiserver get to become ready; a cold apiserver takes ~5 s here.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// One of the control plane's processes, with what started it (to start it again).
struct Process {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
    child: Child,
}

/// A running etcd + kube-apiserver. Dropping it stops both.
pub struct ControlPlane {
    dir: tempfile::TempDir,
    processes: Mutex<Vec<Process>>,
    server: String,
    etcd_url: String,
    kubeconfig: PathBuf,
    ca_file: PathBuf,
    token: String,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver on free loopback ports and waits until `/readyz` is ok.
    pub fn start() -> Result<ControlPlane> {
        let apiserver_bin = apiserver_binary()?;
        let etcd_bin = which("etcd")
            .context("etcd is not installed: run tests/scripts/install-control-plane.sh")?;
        let dir = tempfile::Builder::new()
            .prefix("cutover-control-plane-")
            .tempdir()?;
        let path = dir.path();

        let token = random_hex();
        let pki = Pki::generate(path)?;
        fs::write(
            path.join("tokens.csv"),
            format!("{token},admin,admin,\"system:masters\"\n"),
        )?;

        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let api_port = free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let server = format!("https://127.0.0.1:{api_port}");

        let kubeconfig = path.join("kubeconfig");
        fs::write(&kubeconfig, kubeconfig_yaml(&server, &pki.ca_file, &token))?;

        let mut plane = ControlPlane {
            processes: Mutex::new(Vec::new()),
            server,
            etcd_url: etcd_url.clone(),
            kubeconfig,
            ca_file: pki.ca_file.clone(),
            token,
            dir,
        };
        let path = plane.dir.path().to_path_buf();
        plane.spawn(
            "etcd",
            etcd_bin,
            &[
                "--name",
                "default",
                "--data-dir",
                &path.join("etcd").display().to_string(),
                "--listen-client-urls",
                &etcd_url,
                "--advertise-client-urls",
                &etcd_url,
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
                "--initial-cluster",
                &format!("default={peer_url}"),
            ],
        )?;
        plane.wait_for_port("etcd", etcd_port)?;

        plane.spawn(
            "kube-apiserver",
            apiserver_bin,
            &[
                "--etcd-servers",
                &etcd_url,
                "--bind-address",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
                "--secure-port",
                &api_port.to_string(),
                "--insecure-port",
                "0",
                "--tls-cert-file",
                &pki.serving_cert.display().to_string(),
                "--tls-private-key-file",
                &pki.serving_key.display().to_string(),
                "--client-ca-file",
                &pki.ca_file.display().to_string(),
                "--token-auth-file",
                &path.join("tokens.csv").display().to_string(),
                "--authorization-mode",
                "RBAC",
                "--service-account-key-file",
                &pki.service_account_public.display().to_string(),
                "--service-account-signing-key-file",
                &pki.service_account_key.display().to_string(),
                "--service-account-issuer",
                "https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range",
                "10.96.0.0/24",
                "--profiling=false",
            ],
        )?;
        plane.wait_until_ready()?;
        Ok(plane)
    }

    /// The API server's URL (`https://127.0.0.1:PORT`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// etcd's client URL.
    pub fn etcd_url(&self) -> &str {
        &self.etcd_url
    }

    /// A kubeconfig for the admin user (group `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kubeconfig for this control plane that authenticates with `token` (a ServiceAccount's,
    /// say), written under the plane's directory as `name`.
    pub fn kubeconfig_with_token(&self, name: &str, token: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(name);
        fs::write(&path, kubeconfig_yaml(&self.server, &self.ca_file, token))?;
        Ok(path)
    }

    /// The admin bearer token.
    pub fn admin_token(&self) -> &str {
        &self.token
    }

    /// Directory holding the control plane's files and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A `kubectl` command pointed at this control plane.
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::null());
        command
    }

    /// Runs kubectl with `args`; fails with its output when it exits non-zero.
    pub fn kubectl_ok(&self, args: &[&str]) -> Result<String> {
        let output = self
            .kubectl()
            .args(args)
            .output()
            .context("running kubectl")?;
        if !output.status.success() {
            bail!(
                "kubectl {} failed: {}{}",
                args.join(" "),
                text(&output.stdout),
                text(&output.stderr)
            );
        }
        Ok(text(&output.stdout))
    }

    /// Runs kubectl with `args` and returns its whole output, whatever its exit status.
    pub fn kubectl_output(&self, args: &[&str]) -> Result<Output> {
        self.kubectl()
            .args(args)
            .output()
            .context("running kubectl")
    }

    /// A kube client for the admin user.
    pub async fn client(&self) -> Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// Applies `crds/` server-side and waits until each CRD is Established and published in
    /// the OpenAPI document (kubectl validates manifests against that on a 1.20 server).
    pub fn install_crds(&self) -> Result<()> {
        let crds = crate::repo_root().join("crds");
        self.kubectl_ok(&[
            "apply",
            "--server-side",
            "--field-manager=cutover-tests",
            "-f",
            &crds.display().to_string(),
        ])?;
        self.wait_for_crds()
    }

    /// Waits until cutover's CRDs are Established and published in the OpenAPI document.
    pub fn wait_for_crds(&self) -> Result<()> {
        for crd in [
            "recoveryvaults.cutover.dev",
            "migrationplans.cutover.dev",
            "replicatedmachines.cutover.dev",
        ] {
            self.kubectl_ok(&[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("crd/{crd}"),
            ])?;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let openapi = self.kubectl_ok(&["get", "--raw", "/openapi/v2"])?;
            if ["RecoveryVault", "MigrationPlan", "ReplicatedMachine"]
                .iter()
                .all(|kind| openapi.contains(&format!("dev.cutover.v1alpha1.{kind}")))
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the CRDs were not published in /openapi/v2 within 60 s");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The last lines of a component's log, for error messages.
    pub fn log_tail(&self, component: &str) -> String {
        let log = fs::read_to_string(self.dir.path().join(format!("{component}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops kube-apiserver and etcd (kill -9, as a crashed node would) and starts them again
    /// on the same ports and data: clients see connections refused, then the same cluster.
    pub fn restart(&self, down_for: Duration) -> Result<()> {
        let mut processes = self.processes.lock().expect("process list lock");
        for process in processes.iter_mut().rev() {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
        std::thread::sleep(down_for);
        for process in processes.iter_mut() {
            process.child = spawn_child(
                self.dir.path(),
                process.name,
                Command::new(&process.program).args(&process.args),
            )?;
            if process.name == "etcd" {
                let port = self
                    .etcd_url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .context("etcd URL port")?;
                wait_for_listener(port)?;
            }
        }
        drop(processes);
        self.wait_until_ready()
    }

    fn spawn(&mut self, name: &'static str, program: PathBuf, args: &[&str]) -> Result<()> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let child = spawn_child(self.dir.path(), name, Command::new(&program).args(&args))?;
        self.processes
            .lock()
            .expect("process list lock")
            .push(Process {
                name,
                program,
                args,
                child,
            });
        Ok(())
    }

    fn exited(&self) -> Option<String> {
        let mut processes = self.processes.lock().expect("process list lock");
        for process in processes.iter_mut() {
            if let Ok(Some(status)) = process.child.try_wait() {
                return Some(format!(
                    "{} exited ({status}):\n{}",
                    process.name,
                    self.log_tail(process.name)
                ));
            }
        }
        None
    }

    fn wait_for_port(&self, name: &str, port: u16) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(exit) = self.exited() {
                bail!("{exit}");
            }
            if Instant::now() > deadline {
                bail!(
                    "{name} did not listen on port {port} within {READY_TIMEOUT:?}:\n{}",
                    self.log_tail(name)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn wait_until_ready(&self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let output = self
                .kubectl()
                .args(["get", "--raw", "/readyz"])
                .output()
                .context("running kubectl")?;
            if output.status.success() {
                return Ok(());
            }
            if let Some(exit) = self.exited() {
                bail!("{exit}");
            }
            if Instant::now() > deadline {
                bail!(
                    "kube-apiserver was not ready within {READY_TIMEOUT:?}:\n{}",
                    self.log_tail("kube-apiserver")
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let mut processes = self.processes.lock().unwrap_or_else(|e| e.into_inner());
        // The apiserver first, so it does not log etcd's disappearance as an error storm.
        for process in processes.iter_mut().rev() {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

/// One control plane for the whole test binary, with the CRDs installed. Each test works in
/// its own namespace ([`crate::temp_namespace`]).
pub fn shared() -> Result<&'static ControlPlane> {
    static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            // Start it from a thread that lives as long as the process: the children's
            // parent-death signal follows the spawning thread, not the process.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("control-plane-keeper".into())
                .spawn(move || {
                    // A free port can be taken by another process between picking it and
                    // binding it (a parallel test binary): start again on new ports.
                    let mut plane = ControlPlane::start();
                    for _ in 0..2 {
                        match &plane {
                            Err(e) if format!("{e:#}").contains("address already in use") => {
                                plane = ControlPlane::start();
                            }
                            _ => break,
                        }
                    }
                    let plane = plane.and_then(|plane| plane.install_crds().map(|()| plane));
                    let _ = tx.send(plane.map_err(|e| format!("{e:#}")));
                    loop {
                        std::thread::park();
                    }
                })
                .map_err(|e| e.to_string())?;
            rx.recv().map_err(|e| e.to_string())?
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("starting the shared control plane: {e}"))
}

/// Where the kube-apiserver binary is: `$CUTOVER_KUBE_APISERVER`, or the cache the install
/// script fills (`$CUTOVER_CACHE`, default `~/.cache/cutover`).
fn apiserver_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CUTOVER_KUBE_APISERVER") {
        return Ok(PathBuf::from(path));
    }
    let cache = std::env::var_os("CUTOVER_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/cutover")))
        .context("neither CUTOVER_CACHE nor HOME is set")?;
    let binary = cache.join("kube-apiserver-1.20.2");
    if !binary.is_file() {
        bail!(
            "{} is missing: run tests/scripts/install-control-plane.sh to build it",
            binary.display()
        );
    }
    Ok(binary)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Starts one control-plane process, appending to its log.
fn spawn_child(dir: &Path, name: &str, command: &mut Command) -> Result<Child> {
    let log = fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))?;
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent. It makes the
    // child die with the thread that spawned it, so a test process that exits without
    // dropping its control plane (a static one) leaves no etcd or apiserver behind.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn().with_context(|| format!("starting {name}"))
}

/// Waits until something listens on a loopback port.
fn wait_for_listener(port: u16) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listened on port {port} within {READY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A loopback port nothing listens on now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_hex() -> String {
    format!("{}{}", crate::unique_name("t"), crate::unique_name("k")).replace('-', "")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn kubeconfig_yaml(server: &str, ca_file: &Path, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: cutover-test\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: cutover-test\n  context:\n    cluster: cutover-test\n    user: admin\ncurrent-context: cutover-test\n",
        ca = ca_file.display()
    )
}

/// The control plane's keys and certificates: a CA, the apiserver's serving certificate for
/// 127.0.0.1 and localhost, and the service-account signing key.
struct Pki {
    ca_file: PathBuf,
    serving_cert: PathBuf,
    serving_key: PathBuf,
    service_account_key: PathBuf,
    service_account_public: PathBuf,
}

impl Pki {
    fn generate(dir: &Path) -> Result<Pki> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "cutover test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let serving_key = KeyPair::generate()?;
        let mut serving_params = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        serving_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "kube-apiserver");
        let serving = serving_params.signed_by(&serving_key, &ca)?;

        let service_account = KeyPair::generate()?;
        let pki = Pki {
            ca_file: dir.join("ca.crt"),
            serving_cert: dir.join("apiserver.crt"),
            serving_key: dir.join("apiserver.key"),
            service_account_key: dir.join("sa.key"),
            service_account_public: dir.join("sa.pub"),
        };
        fs::write(&pki.ca_file, ca.pem())?;
        fs::write(&pki.serving_cert, serving.pem())?;
        fs::write(&pki.serving_key, serving_key.serialize_pem())?;
        fs::write(&pki.service_account_key, service_account.serialize_pem())?;
        fs::write(
            &pki.service_account_public,
            service_account.public_key_pem(),
        )?;
        Ok(pki)
    }
}
