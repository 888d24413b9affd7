/** The drag data type a Studio gallery image carries into editors: its resource URI as text. */
export const EASEL_IMAGE_MIME = "application/vnd.easel.image-uri";
