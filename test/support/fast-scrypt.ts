import { setDefaultPasswordScrypt } from '../../hub/auth/secrets.js';

// Tests hash many passwords: N=2^10 instead of 2^17 (test/unit/hub-auth.test.ts checks the default once).
// Hub and CLI processes the tests start get the same through PDM_HUB_AUTH_PASSWORD_SCRYPT_N (vitest.config.ts).
setDefaultPasswordScrypt({ N: 1024, r: 8, p: 1 });
