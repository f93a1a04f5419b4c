import { fork, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

/** One e-mail as the SMTP server received it: envelope and the raw message (headers and body). */
export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpSink {
  port: number;
  mails: ReceivedMail[];
  /** The received message's Subject header and text body (folded headers joined, quoted-printable soft breaks undone). */
  subjectOf(mail: ReceivedMail): string;
  bodyOf(mail: ReceivedMail): string;
  stop(): Promise<void>;
}

// The server process: smtp-server on a free port, no auth and no TLS (localhost), each message sent to the parent.
const SERVER = `
const { SMTPServer } = require(process.env.SMTP_SERVER_MODULE);
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      process.send({
        from: session.envelope.mailFrom && session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        raw: Buffer.concat(chunks).toString('utf8'),
      });
      callback();
    });
  },
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
process.on('disconnect', () => server.close(() => process.exit(0)));
`;

/** A real SMTP server in a child process (the `smtp-server` package), collecting what it receives. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const script = join(tmpdir(), `pdm-smtp-sink-${process.pid}-${Date.now()}.cjs`);
  await writeFile(script, SERVER);
  const child: ChildProcess = fork(script, [], {
    env: { ...process.env, SMTP_SERVER_MODULE: createRequire(import.meta.url).resolve('smtp-server') },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const mails: ReceivedMail[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the SMTP server exited with code ${code}`)));
    child.on('message', (m: { port?: number } & Partial<ReceivedMail>) => {
      if (m.port) resolve(m.port);
      else mails.push(m as ReceivedMail);
    });
  });
  const headerEnd = (raw: string) => raw.indexOf('\r\n\r\n');
  return {
    port,
    mails,
    subjectOf: (mail) => {
      const headers = mail.raw.slice(0, headerEnd(mail.raw)).replace(/\r\n[ \t]+/g, ' ');
      return /^Subject: (.*)$/m.exec(headers)?.[1]?.trim() ?? '';
    },
    bodyOf: (mail) => {
      const headers = mail.raw.slice(0, headerEnd(mail.raw));
      const body = mail.raw.slice(headerEnd(mail.raw) + 4);
      if (/^Content-Transfer-Encoding: base64/im.test(headers)) return Buffer.from(body, 'base64').toString('utf8');
      if (!/^Content-Transfer-Encoding: quoted-printable/im.test(headers)) return body;
      const text = body.replace(/=\r\n/g, '');
      const bytes: number[] = [];
      for (let i = 0; i < text.length; i++) {
        const hex = text.slice(i + 1, i + 3);
        if (text[i] === '=' && /^[0-9A-F]{2}$/.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 2;
        } else bytes.push(...Buffer.from(text[i]!, 'utf8'));
      }
      return Buffer.from(bytes).toString('utf8');
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}
