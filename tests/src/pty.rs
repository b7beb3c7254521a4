//! A program run on a pseudo-terminal, as a person runs it in a terminal: its screen (what it
//! wrote, escape sequences and all) is read from the pty's master side, and what the person
//! types is written to it.

use std::fs::File;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use nix::pty::{OpenptyResult, Winsize, openpty};

pub struct Pty {
    child: Child,
    master: File,
    output: mpsc::Receiver<Vec<u8>>,
    screen: Vec<u8>,
}

impl Pty {
    /// Starts `command` with stdin, stdout and stderr on a new terminal of `columns` x `rows`.
    pub fn spawn(mut command: Command, columns: u16, rows: u16) -> Result<Pty> {
        let size = Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let OpenptyResult { master, slave } = openpty(Some(&size), None).context("openpty")?;
        let terminal = File::from(slave);
        command
            .stdin(Stdio::from(terminal.try_clone()?))
            .stdout(Stdio::from(terminal.try_clone()?))
            .stderr(Stdio::from(terminal));
        let child = command.spawn().context("starting the program on the pty")?;
        // `command` holds the terminal's copies until dropped: without that, reading the
        // master would never see the end once the program exits.
        drop(command);
        let master = File::from(master);
        let mut reader = master.try_clone()?;
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Linux answers EIO on the master once every copy of the terminal is closed.
            while let Ok(read @ 1..) = reader.read(&mut buffer) {
                if sender.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Pty {
            child,
            master,
            output,
            screen: Vec::new(),
        })
    }

    /// Everything the program wrote so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen).into_owned()
    }

    /// Reads until the screen satisfies `done`; fails after `timeout` with what it shows.
    pub fn read_until(&mut self, timeout: Duration, done: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.screen()) {
                return Ok(self.screen());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.screen.extend(chunk),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!(
                        "the terminal never showed what was expected:\n{}",
                        self.screen()
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if done(&self.screen()) {
                        return Ok(self.screen());
                    }
                    bail!("the program ended; its terminal showed:\n{}", self.screen())
                }
            }
        }
    }

    /// Types `text` at the terminal.
    pub fn type_text(&mut self, text: &str) -> Result<()> {
        self.master.write_all(text.as_bytes())?;
        Ok(self.master.flush()?)
    }

    /// Waits for the program to exit and for the rest of its screen.
    pub fn finish(mut self, timeout: Duration) -> Result<(std::process::ExitStatus, String)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Whatever it wrote before it exited is still on its way.
                while let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(200)) {
                    self.screen.extend(chunk);
                }
                return Ok((status, self.screen()));
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                bail!(
                    "the program did not exit; its terminal showed:\n{}",
                    self.screen()
                );
            }
            if let Ok(chunk) = self.output.recv_timeout(Duration::from_millis(50)) {
                self.screen.extend(chunk);
            }
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
