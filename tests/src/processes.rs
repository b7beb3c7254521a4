//! The simulator and the controller as separate processes, the way they run for real: each
//! logs to a file in a temporary directory, and dies with the test.

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::ControlPlane;

/// Where cargo put the workspace's binaries: next to this executable, or above the `deps/`
/// directory a test executable runs from.
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("the executable has no directory")?;
    let dir = if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().context("deps/ has no parent")?
    } else {
        dir
    };
    Ok(dir.to_path_buf())
}

pub fn binary(name: &str) -> Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build it first (tests/run does: cargo build --workspace --bins)",
            path.display()
        );
    }
    Ok(path)
}

fn kill_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; the child dies with the test thread that spawned it.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Starts azure-sim in `dir` (appending to its log) and reads its first line.
fn spawn_sim(dir: &Path, args: &[String]) -> Result<(Child, SimInfo)> {
    let cert = dir.join("cert.pem");
    let log = fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("azure-sim.log"))?;
    let mut command = Command::new(binary("azure-sim")?);
    command
        .args(["--cert-out", &cert.display().to_string()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    kill_with_parent(&mut command);
    let mut child = command.spawn().context("starting azure-sim")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("azure-sim stdout")?).read_line(&mut line)?;
    let info: SimInfo =
        serde_json::from_str(&line).with_context(|| format!("azure-sim's first line: {line:?}"))?;
    Ok((child, info))
}

/// The first line azure-sim prints.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimInfo {
    pub arm_endpoint: String,
    pub authority_host: String,
    pub cert_file: PathBuf,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_id: String,
}

/// A running azure-sim.
pub struct Simulator {
    child: Child,
    pub info: SimInfo,
    pub dir: tempfile::TempDir,
    args: Vec<String>,
    http: reqwest::Client,
}

impl Simulator {
    /// Starts azure-sim with `args` (time scale, page size…) and reads its address.
    pub fn start(args: &[&str]) -> Result<Simulator> {
        let dir = tempfile::Builder::new().prefix("azure-sim-").tempdir()?;
        Simulator::start_in(dir, args.iter().map(|a| (*a).to_owned()).collect())
    }

    fn start_in(dir: tempfile::TempDir, args: Vec<String>) -> Result<Simulator> {
        let (child, info) = spawn_sim(dir.path(), &args)?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificate = reqwest::Certificate::from_pem(&fs::read(&info.cert_file)?)?;
        let http = reqwest::Client::builder()
            .add_root_certificate(certificate)
            .build()?;
        Ok(Simulator {
            child,
            info,
            dir,
            args,
            http,
        })
    }

    /// Starts azure-sim keeping its world in a state file and its TLS identity in its
    /// directory, so [`Simulator::restart`] brings back the same Azure at the same address.
    pub fn start_restartable(args: &[&str]) -> Result<Simulator> {
        let dir = tempfile::Builder::new().prefix("azure-sim-").tempdir()?;
        let state = dir.path().join("state.json").display().to_string();
        let tls = dir.path().join("tls").display().to_string();
        let address = format!("127.0.0.1:{}", crate::control_plane::free_port()?);
        let mut all = vec!["--state", &state, "--tls-dir", &tls, "--listen", &address];
        all.extend_from_slice(args);
        Simulator::start_in(dir, all.iter().map(|a| (*a).to_owned()).collect())
    }

    /// kill -9 and start again with the same arguments: with [`Simulator::start_restartable`],
    /// the same world, address and certificate.
    pub fn restart(&mut self, down_for: std::time::Duration) -> Result<()> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down_for);
        let (child, info) = spawn_sim(self.dir.path(), &self.args)?;
        self.child = child;
        // Pooled connections went with the old process.
        let certificate = reqwest::Certificate::from_pem(&fs::read(&info.cert_file)?)?;
        self.http = reqwest::Client::builder()
            .add_root_certificate(certificate)
            .build()?;
        if info.arm_endpoint != self.info.arm_endpoint {
            bail!(
                "azure-sim came back at {} instead of {}",
                info.arm_endpoint,
                self.info.arm_endpoint
            );
        }
        Ok(())
    }

    /// Calls the admin API (`/_sim/...`).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}/_sim/{path}", self.info.arm_endpoint));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("/_sim/{path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// ARM requests the simulator saw, optionally filtered (`method=PUT&path=/vaults/`).
    pub async fn requests(&self, filter: &str) -> Result<Vec<Value>> {
        let log = self
            .admin(reqwest::Method::GET, &format!("requests?{filter}"), None)
            .await?;
        Ok(log["requests"].as_array().cloned().unwrap_or_default())
    }

    /// Calls ARM as the simulator's service principal.
    pub async fn arm(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let token: Value = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.info.authority_host, self.info.tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.info.client_id.as_str()),
                ("client_secret", self.info.client_secret.as_str()),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
            .await?
            .json()
            .await?;
        let mut request = self
            .http
            .request(
                method,
                format!("{}{path_and_query}", self.info.arm_endpoint),
            )
            .bearer_auth(token["access_token"].as_str().unwrap_or_default());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("azure-sim.log")).unwrap_or_default()
    }

    /// Creates the Secret a vault's `spec.credentials.secretRef` names, holding this
    /// simulator's service principal.
    pub fn create_identity_secret(
        &self,
        plane: &ControlPlane,
        namespace: &str,
        name: &str,
    ) -> Result<()> {
        plane.kubectl_ok(&[
            "create",
            "secret",
            "generic",
            name,
            "-n",
            namespace,
            &format!("--from-literal=tenantId={}", self.info.tenant_id),
            &format!("--from-literal=clientId={}", self.info.client_id),
            &format!("--from-literal=clientSecret={}", self.info.client_secret),
        ])?;
        Ok(())
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `cutover run`, pointed at a control plane and a simulator.
pub struct Controller {
    child: Child,
    log: PathBuf,
    metrics: String,
}

impl Controller {
    /// Starts the controller watching `namespace`, polling fast and resyncing every few seconds.
    pub fn start(
        plane: &ControlPlane,
        sim: &Simulator,
        namespace: &str,
        extra_env: &[(&str, &str)],
    ) -> Result<Controller> {
        let mut env = vec![
            ("CUTOVER_NAMESPACE", namespace),
            ("CUTOVER_POLL_SECONDS", "0.3"),
            ("CUTOVER_RESYNC_SECONDS", "3"),
        ];
        env.extend_from_slice(extra_env);
        Controller::start_with(sim, plane.kubeconfig(), &env)
    }

    /// Starts the controller with `kubeconfig`, the simulator's endpoints and identity, and
    /// `env` (which wins), and nothing else: what a manifest's environment gives it.
    pub fn start_with<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        sim: &Simulator,
        kubeconfig: &Path,
        env: &[(K, V)],
    ) -> Result<Controller> {
        let log = sim
            .dir
            .path()
            .join(format!("{}.log", crate::unique_name("cutover")));
        let metrics = format!("127.0.0.1:{}", crate::control_plane::free_port()?);
        let mut command = Command::new(binary("cutover")?);
        command
            .arg("run")
            .env("KUBECONFIG", kubeconfig)
            .env("CUTOVER_ARM_ENDPOINT", &sim.info.arm_endpoint)
            .env("AZURE_AUTHORITY_HOST", &sim.info.authority_host)
            .env("CUTOVER_CA_FILE", &sim.info.cert_file)
            .env("AZURE_TENANT_ID", &sim.info.tenant_id)
            .env("AZURE_CLIENT_ID", &sim.info.client_id)
            .env("AZURE_CLIENT_SECRET", &sim.info.client_secret)
            .env("RUST_LOG", "info,cutover=debug,kube=warn")
            .env("CUTOVER_METRICS_ADDRESS", &metrics)
            .env_remove("AZURE_FEDERATED_TOKEN_FILE")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&log)?)
            .stderr(fs::File::options().append(true).open(&log)?);
        kill_with_parent(&mut command);
        let child = command.spawn().context("starting cutover")?;
        Ok(Controller {
            child,
            log,
            metrics: format!("http://{metrics}"),
        })
    }

    /// GETs one of the controller's endpoints (`/metrics`, `/healthz`, `/readyz`): status, body.
    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        let response = reqwest::get(format!("{}{path}", self.metrics)).await?;
        Ok((response.status().as_u16(), response.text().await?))
    }

    /// The process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// kill -9: no shutdown, no lease release.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the process to exit; its exit status.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> Result<std::process::ExitStatus> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        // SAFETY: kill(2) with a pid this struct owns and a standard signal.
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            bail!("SIGTERM to cutover: {}", std::io::Error::last_os_error());
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if std::time::Instant::now() > deadline {
                bail!("cutover did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
