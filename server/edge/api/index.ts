export { createApi, type ApiOptions } from './router';
export { ApiErrorCode } from './errors';
