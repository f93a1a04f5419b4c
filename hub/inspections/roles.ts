/** Who may do what with inspections, lowest first: each role may do what the ones before it may. */
export const ROLES = ['viewer', 'technician', 'supervisor'] as const;
export type Role = (typeof ROLES)[number];
