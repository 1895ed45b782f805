import NylasImport from "nylas";

/**
 * The official SDK's class. Node loads the SDK's ESM build (whose default export is the
 * class) while TypeScript under NodeNext reads its typings as CommonJS (where the class is
 * `.default`); this bridges the two without `any` spreading through the code.
 */
type NylasClass = typeof NylasImport.default;
export const Nylas: NylasClass =
  (NylasImport as unknown as { default?: NylasClass }).default ?? (NylasImport as unknown as NylasClass);
export type NylasClient = InstanceType<NylasClass>;
