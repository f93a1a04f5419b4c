/** The agent's version: in its status and health messages, `pdm-agent --version` and the device package's name. */
export const AGENT_VERSION = '0.2.0';
