import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, where installed (CHROMIUM_PATH names another; one that does not exist hides it). */
export const CHROMIUM = [process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'].find((p) => existsSync(p));

/**
 * Debian's Chromium, headless, with every background connection off (the machine has no network beyond loopback).
 * playwright-core gives each launch a fresh temporary profile.
 */
export async function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) throw new Error(`no Chromium at ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const ARTIFACTS = join(process.cwd(), 'test-artifacts');
